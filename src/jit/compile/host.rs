//! Host calls from compiled code: arguments through `Shared`, the live cache registers
//! preserved around the call, and the status check afterwards.
//!
//! Invariants it keeps (safety model items 2 and 5): `rsp` is 16-byte aligned at every
//! `call` (the trampoline leaves it aligned, and an odd number of pushed registers is padded);
//! the callee gets the runtime pointer compiled code was entered with (`state`); host calls
//! never unwind, they report a `HostStatus`, which the code checks before going on.

use dynasmrt::x64::Assembler;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::vstack::Src;
use super::{Compiler, fits_i32};
use crate::jit::blocks::Op;
use crate::jit::coverage::{self, Decision, Form};
use crate::jit::runtime::{self, HostStatus, offsets as off};

/// Writes `src` to the `Shared` field at `offset`.
pub(super) fn emit_to_shared(ops: &mut Assembler, offset: i32, src: Src) {
    coverage::hit_if(src.form() == Form::Memory, Decision::HostArgumentMemory);
    coverage::hit_if(src.form() == Form::Imm64, Decision::HostArgumentImm64);
    match src {
        Src::Reg(r) => asm!(ops; mov [state + offset], Rq(r)),
        Src::Imm(v) if fits_i32(v) => asm!(ops; mov QWORD [state + offset], v as i32),
        Src::Imm(v) => asm!(ops; mov scratch, QWORD v; mov [state + offset], scratch),
        Src::Mem(d) => asm!(ops; mov scratch, [vsp + d]; mov [state + offset], scratch),
    }
}

/// Calls `f(runtime)`, preserving the `live` cache registers and aligning the stack.
pub(super) fn emit_host_call(ops: &mut Assembler, live: &[u8], f: usize) {
    for &r in live {
        asm!(ops; push Rq(r));
    }
    let pad = live.len() % 2 == 1;
    if pad {
        asm!(ops; sub rsp, 8);
    }
    asm!(ops
        ; mov rdi, state
        ; mov rax, QWORD f as i64
        ; call rax
    );
    if pad {
        asm!(ops; add rsp, 8);
    }
    for &r in live.iter().rev() {
        asm!(ops; pop Rq(r));
    }
}

/// After a host call: to `bail` when it asks the stepper to run the instruction, to
/// `failed` (out of compiled code) when it failed.
pub(super) fn emit_host_status(ops: &mut Assembler, bail: DynamicLabel, failed: DynamicLabel) {
    asm!(ops
        ; mov scratch, [state + off::STATUS]
        ; cmp scratch, HostStatus::Bail as i32
        ; je =>bail
        ; ja =>failed
    );
}

impl Compiler<'_> {
    /// `printc` and `printi`: a host call that writes the top item.
    pub(super) fn print(&mut self, k: usize, op: Op) {
        let t = self.nth(0);
        let v = self.src(t);
        coverage::hit(Decision::pick(op == Op::PrintC, Decision::PrintC, Decision::PrintI));
        let bail = self.exit_stub(k, Decision::ExitPrintHost);
        let live = self.live();
        let failed = self.failed;
        let f = if op == Op::PrintC {
            runtime::host_printc as *const () as usize
        } else {
            runtime::host_printi as *const () as usize
        };
        let ops = &mut self.ops;
        emit_to_shared(ops, off::ARG0, v);
        emit_host_call(ops, &live, f);
        emit_host_status(ops, bail, failed);
        let s = self.pop();
        self.release(s);
    }
}
