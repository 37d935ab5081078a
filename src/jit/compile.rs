//! Code generation: every native block to x86-64, with the top of the stack cached in
//! registers. This file is the translator's entry ([`compile`], [`disassemble`]) and its
//! state ([`Compiler`]); the artefact it produces is [`Code`].
//!
//! Within a block the compiler tracks a *virtual stack*: the top items as registers,
//! constants, or "in memory at its own slot". Instructions move, fold and combine these
//! without touching memory; memory is written only when a block ends, a register is needed,
//! or the block leaves early. An early exit to the stepper (a value that overflows, a
//! possible trap) jumps to a two-instruction stub naming an *exit descriptor*: the virtual
//! stack *as it was before that instruction*, the instruction and the fuel to refund. The
//! common deopt path saves the cache registers and leaves; the driver writes the cached
//! items from the descriptor ([`Code::apply_exit`]), so exits cost no code per cached item.
//! A taken `jz`/`jn` in mid-block instead leaves through a side-exit stub that writes the
//! cached items and jumps to the target block.
//!
//! In the optimising tier a block may take its top few items in fixed registers (its entry
//! convention, `compile/edges.rs`): a jump, branch or fall-through that can pass them moves
//! them there instead of writing them, and the block's body starts with them in its virtual
//! stack as dirty registers, which every later flush and exit descriptor writes as usual.
//!
//! | file | owns |
//! |---|---|
//! | `compile.rs` | the translator's state, [`compile`], per-instruction dispatch, registers |
//! | `compile/code.rs` | the artefact [`Code`]: buffer, tables, exit descriptors, entry, listing |
//! | `compile/vstack.rs` | the virtual stack and its register cache: allocation, spills, flushes |
//! | `compile/entry.rs` | the optimising tier's checked entries: jumps that skip implied depth checks |
//! | `compile/returns.rs` | the optimising tier's call summaries: a function's stack effect |
//! | `compile/inline.rs` | the optimising tier's inlined calls: a short callee in its caller's block |
//! | `compile/edges.rs` | the optimising tier's entry conventions: top items passed in registers |
//! | `compile/written.rs` | the optimising tier's written cells: constant addresses stored on every way |
//! | `compile/exits.rs` | trampoline, exit descriptors and stubs, side exits, deferred paths |
//! | `compile/host.rs` | the host-call sequence, and `printc`/`printi`, which are one |
//! | `compile/stack.rs` | `dup`, `copy`, `swap`, `drop`, `slide`, static and dynamic |
//! | `compile/arith.rs` | `add`, `sub`, `mul`, `div`, `mod` |
//! | `compile/fastdiv.rs` | the optimising tier's division: 32-bit short form, constant divisors |
//! | `compile/heap.rs` | `store` and `retrieve` |
//! | `compile/flow.rs` | block entry checks and ends, `jmp`, `jz`/`jn`, `call`, `ret`, `end` |
//!
//! Invariants the code keeps (safety model items 2 and 3 in the module docs; each file
//! states the part it keeps):
//! - an instruction computes into freshly allocated registers, so the registers named by the
//!   descriptor of its exit still hold their values when the exit is taken;
//! - a cached item marked `Mem` is in memory at its own slot, and memory slots are written
//!   only with the item that lives there;
//! - compiled code touches value-stack slots only between `entry_sp - needs` and
//!   `entry_sp + growth`, which the block's entry check has validated against `floor` and
//!   `cap` (dynamic `copy` and `slide` compare the bytes between `vsp` and `floor` with the
//!   distance they need, and form the slot's address only once it is known to be in range);
//! - every displacement is built from a quantity the block analysis bounds (`needs`,
//!   `growth`, `delta` and window positions by `blocks::MAX_REACH` items, fuel and refunds by
//!   `blocks::MAX_BLOCK_LEN`), so it fits an `i32`; [`slot_bytes`] and `compile_block` assert
//!   those bounds instead of truncating.

// dynasm's expansion converts dynamic register numbers with `.into()`, a no-op for `u8`;
// those lints fire on generated code only.
#![allow(clippy::useless_conversion)]

use std::collections::HashMap;

use dynasmrt::x64::Assembler;
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, dynasm};

use super::blocks::{self, Arg, Block, Blocks, MAX_REACH, Op, STATIC_REACH};
use super::coverage::{self, Decision};
use super::{Planted, Tier, mutated};
use crate::outcome::HostError;
use crate::program::Program;

/// Every dynasm use goes through this macro: it fixes the architecture and names the
/// registers with a fixed role, in one table.
///
/// | register | role |
/// |---|---|
/// | `rbx` (`state`) | the [`Runtime`] (its [`Shared`] part comes first) |
/// | `r12` (`vsp`) | value stack pointer at block entry (next free slot) |
/// | `r13` (`cells`) | dense heap cell 0 |
/// | `rbp` (`hlimit`) | dense heap cells below this index are native |
/// | `r14` (`fuel`) | instructions that may still run |
/// | `r15` (`csp`) | call stack pointer (next free slot) |
/// | `r11` (`scratch`) | short-lived temporary, never cached |
/// | `rax rcx rdx rsi rdi r8 r9 r10` | the register cache ([`CACHE`]) |
///
/// [`Runtime`]: super::runtime::Runtime
/// [`Shared`]: super::runtime::Shared
macro_rules! asm {
    ($ops:expr ; $($t:tt)*) => {
        dynasm!($ops
            ; .arch x64
            ; .alias state, rbx
            ; .alias vsp, r12
            ; .alias cells, r13
            ; .alias hlimit, rbp
            ; .alias fuel, r14
            ; .alias csp, r15
            ; .alias scratch, r11
            ; $($t)*
        )
    };
}

mod arith;
mod code;
mod edges;
mod entry;
mod exits;
mod fastdiv;
mod flow;
mod heap;
mod host;
mod inline;
mod returns;
mod stack;
mod vstack;
mod written;

pub(crate) use code::{After, Code, NativeExit};
use code::{ExitInfo, Slot};
use exits::{Deferred, SideExit};

const RAX: u8 = 0;
const RDX: u8 = 2;
/// Registers that cache stack items, in allocation order (`rax`, `rdx` last: `idiv` needs
/// them).
const CACHE: [u8; 8] = [1, 6, 7, 8, 9, 10, RAX, RDX];

fn fits_i32(v: i64) -> bool {
    i32::try_from(v).is_ok()
}

/// The bytes `items` value-stack slots span, as a displacement. Only for counts the block
/// analysis bounds by [`MAX_REACH`] (needs, growth): then it cannot truncate.
fn slot_bytes(items: usize) -> i32 {
    assert!(items <= MAX_REACH, "a block reaches {items} stack items, more than MAX_REACH");
    i32::try_from(items * 8).expect("MAX_REACH slots fit an i32 displacement")
}

/// The code generator for one program.
struct Compiler<'a> {
    ops: Assembler,
    code: &'a [Op],
    blocks: &'a Blocks,
    mutation: Planted,
    /// Whether the optimising tier's passes run (`Tier::optimises`).
    optimise: bool,
    /// Whether constant addresses below `LOW_CELLS` go unchecked (`heap.rs`): the optimising
    /// tier's code once a run goes over to it (`jit::low_cells_after`), until a cell there
    /// holds a big value, when the driver goes back to code compiled without.
    low_cells: bool,
    block_labels: Vec<Option<DynamicLabel>>,
    /// Per block: where its body starts, past its entry checks (optimising tier only).
    inner_labels: Vec<Option<DynamicLabel>>,
    /// Per native block: its check-failed stub, named before the block is compiled so that
    /// jumps from earlier blocks can make its fuel check (`entry.rs`).
    fail_labels: Vec<Option<DynamicLabel>>,
    /// Per block: its entry convention, the top items it takes in registers (`edges.rs`;
    /// 0 in the baseline).
    conventions: Vec<usize>,
    /// Per block taking items in registers: its register entry and register-entry stub.
    reg_entries: Vec<Option<(DynamicLabel, DynamicLabel)>>,
    exit_labels: HashMap<usize, DynamicLabel>,
    side_exits: Vec<SideExit>,
    exits: Vec<ExitInfo>,
    exit_slots: Vec<Slot>,
    /// Stubs to emit: label and exit descriptor id.
    exit_stubs: Vec<(DynamicLabel, u32)>,
    deferred: Vec<Deferred>,
    /// The common exit paths.
    exit: DynamicLabel,
    deopt: DynamicLabel,
    failed: DynamicLabel,
    // The block being compiled.
    block: Block,
    window: Vec<Slot>,
    delta: i32,
    /// How far `vsp` has moved (in slots) since the block's entry; `None` once a dynamic
    /// `slide` has moved it by an amount known only at run time.
    moved: Option<i32>,
    refs: [u8; 16],
    /// The block's entry convention (items it took in registers).
    passed: usize,
    /// The block's index in `blocks.list`.
    index: usize,
    /// Optimising tier: the stack effect of every function with a summary, by its label's
    /// index (`compile/returns.rs`).
    summaries: HashMap<usize, i64>,
    /// How the block just compiled runs into the next one's code (a summarised `call`'s
    /// return, a side exit laid out before it: `flow.rs`).
    falls_to: flow::Fall,
    /// Optimising tier: heap cells at constant addresses whose value this block stored and
    /// still holds (`heap.rs`); a register named here has a reference in `refs`.
    known_cells: Vec<(i64, Slot)>,
    /// Optimising tier: the constant addresses every way to each block has stored to
    /// (`compile/written.rs`).
    written: written::Written,
    /// The addresses of `written` stored to on every way to the instruction being compiled.
    written_now: u64,
    /// Optimising tier: per block, the trace it is compiled as when it has an inlined call
    /// (`compile/inline.rs`).
    traces: Vec<Option<inline::Trace>>,
    /// The clones that branches inside inlined callees go to (`compile/inline.rs`), and
    /// their labels: entry, inner entry, check-failed stub.
    clones: Vec<inline::Clone>,
    clone_labels: Vec<(DynamicLabel, DynamicLabel, DynamicLabel)>,
    /// Whether the instruction being compiled is inside an inlined callee (its branches go
    /// to clones).
    in_callee: bool,
    /// The instructions of the block being compiled, in the order it runs them: its own, or
    /// its trace's.
    seq: Vec<usize>,
    /// In a trace: the positions of the inlined `call` and of the callee's `ret`.
    inline: Option<(usize, usize)>,
    /// Whether the unit's inlined call pushes a machine frame (`compile/inline.rs`).
    frame: bool,
}

/// Compiles `program` (already decoded into `code` and cut into `blocks`). `low_cells`
/// (optimising tier only) reads and writes constant addresses below `LOW_CELLS` without a
/// bound check: valid while no cell there has held a big value (`Heap::low_big`).
pub(crate) fn compile(
    code: Vec<Op>,
    mut blocks: Blocks,
    mutation: Planted,
    tier: Tier,
    low_cells: bool,
) -> Result<Code, HostError> {
    let optimise = tier.optimises();
    // The optimising tier's analyses, on the blocks as cut (`traces` then gives the blocks
    // with an inlined call the shape of all they run).
    let conventions = if optimise {
        edges::conventions(&code, &blocks, mutation)
    } else {
        vec![0; blocks.list.len()]
    };
    let summaries = if optimise { returns::summaries(&code, mutation) } else { HashMap::new() };
    let written =
        if optimise { written::analyse(&code, &blocks, mutation) } else { Default::default() };
    let (traces, clones) = if optimise {
        inline::traces(&code, &mut blocks, mutation)
    } else {
        (vec![None; blocks.list.len()], Vec::new())
    };
    // About 24 bytes of code per instruction: sized once, the buffer is not copied as it grows.
    let mut ops = Assembler::new_with_capacity(4096 + 24 * code.len()).map_err(HostError::Io)?;
    let (exit, deopt, failed) =
        (ops.new_dynamic_label(), ops.new_dynamic_label(), ops.new_dynamic_label());
    let mut c = Compiler {
        ops,
        code: &code,
        blocks: &blocks,
        mutation,
        optimise,
        low_cells: low_cells && optimise,
        block_labels: Vec::new(),
        inner_labels: Vec::new(),
        fail_labels: Vec::new(),
        conventions: Vec::new(),
        reg_entries: Vec::new(),
        exit_labels: HashMap::new(),
        side_exits: Vec::new(),
        exits: Vec::new(),
        exit_slots: Vec::new(),
        exit_stubs: Vec::new(),
        deferred: Vec::new(),
        exit,
        deopt,
        failed,
        block: Block { start: 0, end: 0, native: true, needs: 0, growth: 0, extra: 0 },
        window: Vec::new(),
        delta: 0,
        moved: Some(0),
        refs: [0; 16],
        passed: 0,
        index: 0,
        known_cells: Vec::new(),
        summaries,
        falls_to: flow::Fall::No,
        written,
        written_now: 0,
        traces,
        clones,
        clone_labels: Vec::new(),
        in_callee: false,
        seq: Vec::new(),
        inline: None,
        frame: false,
    };
    c.clone_labels = (0..c.clones.len())
        .map(|_| (c.ops.new_dynamic_label(), c.ops.new_dynamic_label(), c.ops.new_dynamic_label()))
        .collect();
    let entry = c.emit_trampoline();
    c.block_labels =
        blocks.list.iter().map(|b| b.native.then(|| c.ops.new_dynamic_label())).collect();
    c.fail_labels =
        blocks.list.iter().map(|b| b.native.then(|| c.ops.new_dynamic_label())).collect();
    c.inner_labels = blocks
        .list
        .iter()
        .map(|b| (b.native && optimise).then(|| c.ops.new_dynamic_label()))
        .collect();
    c.conventions = conventions;
    c.reg_entries = c
        .conventions
        .iter()
        .map(|&pass| (pass > 0).then(|| (c.ops.new_dynamic_label(), c.ops.new_dynamic_label())))
        .collect();
    let mut block_offsets = Vec::with_capacity(blocks.list.len());
    for (i, b) in blocks.list.iter().enumerate() {
        if b.native {
            block_offsets.push(Some(c.ops.offset()));
            c.compile_block(i, *b);
        } else {
            block_offsets.push(None);
        }
    }
    for ci in 0..c.clones.len() {
        c.compile_clone(ci);
    }
    let stubs_offset = c.ops.offset();
    c.emit_stubs();
    let return_labels: Vec<(usize, DynamicLabel)> =
        blocks.return_points.iter().map(|&pc| (pc, c.label_for_pc(pc))).collect();
    c.emit_exit_labels();
    let entry_offsets: Vec<Option<AssemblyOffset>> = c
        .block_labels
        .iter()
        .map(|l| l.map(|l| c.ops.labels().resolve_dynamic(l).expect("every label is defined")))
        .collect();
    let mut return_offsets = Vec::with_capacity(return_labels.len());
    for (pc, label) in return_labels {
        let offset = c.ops.labels().resolve_dynamic(label).expect("every label is defined");
        return_offsets.push((pc, offset));
    }
    let Compiler { ops, exits, exit_slots, low_cells, .. } = c;
    let buffer = executable(ops)?;
    let mut table = vec![0usize; code.len() + 1];
    for (pc, offset) in return_offsets {
        table[pc] = buffer.ptr(offset) as usize;
    }
    let mut native_starts = vec![false; code.len() + 1];
    for b in blocks.list.iter().filter(|b| b.native) {
        native_starts[b.start] = true;
    }
    Ok(Code {
        buffer,
        entry,
        block_offsets,
        entry_offsets,
        stubs_offset,
        table,
        ops: code,
        blocks,
        native_starts,
        exits,
        exit_slots,
        low_cells,
    })
}

impl Compiler<'_> {
    /// Compiles instruction `k` of the block; `false` when control never passes it.
    fn compile_op(&mut self, k: usize, op: Op) -> bool {
        match op {
            Op::Push(v) => self.push(Slot::Imm(v)),
            Op::Dup => {
                coverage::hit(Decision::CopyStatic);
                self.copy(0);
            }
            Op::Copy(Arg::Small(n)) if n <= STATIC_REACH => {
                coverage::hit(Decision::CopyStatic);
                let n = n as usize + usize::from(mutated!(self.mutation, CopyOffByOne));
                self.copy(n);
            }
            Op::Copy(Arg::Small(n)) => self.dynamic_copy(k, n),
            Op::Swap => self.swap(),
            Op::Drop => {
                coverage::hit(Decision::Drop);
                let s = self.pop();
                self.release(s);
            }
            Op::Slide(Arg::Small(n)) if n <= STATIC_REACH => self.slide(n),
            Op::Slide(Arg::Neg) => coverage::hit(Decision::SlideNegative),
            Op::Slide(arg) => self.dynamic_slide(k, arg),
            Op::Add | Op::Sub | Op::Mul => return self.arith(k, op),
            Op::Div | Op::Mod => return self.divide(k, op),
            Op::Store => return self.store(k),
            Op::Retrieve => return self.retrieve(k),
            Op::Label => {}
            Op::Jz(Some(t)) | Op::Jn(Some(t)) => return self.branch(k, op, t),
            Op::Jmp(Some(t)) => {
                coverage::hit(Decision::Jmp);
                self.jump_to(t);
                return false;
            }
            Op::Call(Some(t)) if self.inline.is_some_and(|(call, _)| call == k) => {
                self.inline_call(k, t);
            }
            Op::Call(Some(t)) => {
                self.call(k, t);
                return false;
            }
            Op::Ret if self.inline.is_some_and(|(_, ret)| ret == k) => self.inline_ret(),
            Op::Ret => {
                self.ret(k);
                return false;
            }
            Op::End => {
                self.end();
                return false;
            }
            Op::PrintC | Op::PrintI => self.print(k, op),
            // Stepper-only instructions never reach the compiler (they are blocks of their
            // own); hand over to the stepper should one appear.
            Op::PushBig
            | Op::Copy(_)
            | Op::ReadC
            | Op::ReadI
            | Op::Call(None)
            | Op::Jmp(None)
            | Op::Jz(None)
            | Op::Jn(None) => {
                coverage::hit(Decision::CompiledStepperOnly);
                self.exit_to_stepper(k, Decision::ExitStepperOnly);
                return false;
            }
        }
        true
    }
}

/// The finished code, made executable (never writable and executable at once).
fn executable(ops: Assembler) -> Result<dynasmrt::ExecutableBuffer, HostError> {
    ops.finalize().map_err(|_| {
        HostError::Io(std::io::Error::other("could not make the JIT's code executable"))
    })
}

/// Whether generated code can run here: assembles `mov eax, 42; ret` into the JIT's code
/// buffer, makes it executable as every compiled program is (`finalize`, never writable and
/// executable at once), and calls it. A system whose policy refuses executable mappings
/// fails here as a real compile would.
pub(crate) fn probe() -> Result<(), HostError> {
    let mut ops = Assembler::new().map_err(HostError::Io)?;
    let start = ops.offset();
    dynasm!(ops
        ; .arch x64
        ; mov eax, 42
        ; ret
    );
    let buffer = executable(ops)?;
    // SAFETY: the buffer holds exactly the two instructions above, executable, and the
    // function takes nothing, returns `eax` and follows the System V ABI.
    let f: extern "sysv64" fn() -> i32 = unsafe { std::mem::transmute(buffer.ptr(start)) };
    match f() {
        42 => Ok(()),
        other => Err(HostError::Io(std::io::Error::other(format!(
            "a test of generated code returned {other}, not 42"
        )))),
    }
}

/// The listing `twinspace disasm --native` shows.
pub(crate) fn disassemble(
    program: &Program,
    mutation: Planted,
    tier: Tier,
) -> Result<String, HostError> {
    let ops = blocks::decode(program);
    let blocks = blocks::analyse(&ops, mutation);
    // The code a run starts in: with the low cells unchecked for a small program.
    let low_cells = super::low_cells_after(program.len()) == 0;
    let code = compile(ops, blocks, mutation, tier, low_cells)?;
    Ok(code.listing(program))
}
