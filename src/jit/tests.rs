//! The JIT against the reference interpreter: every outcome must be equal.

use crate::engine::Engine;
use crate::limits::Limits;
use crate::syntax::assemble;

fn agree_with(src: &str, input: &[u8], limits: Limits) {
    let p = assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let want = Engine::Interp.run_bytes(&p, limits, input).unwrap();
    let got = Engine::Jit.run_bytes(&p, limits, input).unwrap();
    assert_eq!(got, want, "program:\n{src}");
}

fn agree(src: &str) {
    agree_with(src, b"", Limits::DEFAULT);
}

#[test]
fn smoke() {
    agree("push 1\npush 2\nadd\nprinti\nend\n");
}
