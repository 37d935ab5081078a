//! Code generation: every native block to x86-64, with the top of the stack cached in
//! registers.
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
//! Invariants the code keeps (safety model items 2 and 3 in the module docs):
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
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, dynasm};

use super::Mutation;
use super::blocks::{self, Arg, Block, Blocks, HUGE, MAX_BLOCK_LEN, MAX_REACH, Op, STATIC_REACH};
use super::runtime::{self, offsets as off};
use crate::outcome::HostError;
use crate::program::Program;

/// Every dynasm use goes through this macro: it fixes the architecture and names the
/// registers with a fixed role, in one table.
///
/// | register | role |
/// |---|---|
/// | `rbx` (`state`) | the [`runtime::Runtime`] (its [`runtime::Shared`] part comes first) |
/// | `r12` (`vsp`) | value stack pointer at block entry (next free slot) |
/// | `r13` (`cells`) | dense heap cell 0 |
/// | `rbp` (`hlimit`) | dense heap cells below this index are native |
/// | `r14` (`fuel`) | instructions that may still run |
/// | `r15` (`csp`) | call stack pointer (next free slot) |
/// | `r11` (`scratch`) | short-lived temporary, never cached |
/// | `rax rcx rdx rsi rdi r8 r9 r10` | the register cache ([`CACHE`]) |
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

mod code;
mod exits;
mod host;
mod vstack;

pub(crate) use code::{After, Code, Exit};
use code::{ExitInfo, Slot};
use exits::{Deferred, SideExit};
use host::{emit_host_call, emit_host_status, emit_to_shared};
use vstack::{Src, emit_mov};

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
    mutation: Option<Mutation>,
    block_labels: Vec<Option<DynamicLabel>>,
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
    refs: [u8; 16],
}

/// Compiles `program` (already decoded into `code` and cut into `blocks`).
pub(crate) fn compile(
    code: Vec<Op>,
    blocks: Blocks,
    mutation: Option<Mutation>,
) -> Result<Code, HostError> {
    // About 24 bytes of code per instruction: sized once, the buffer is not copied as it grows.
    let mut ops = Assembler::new_with_capacity(4096 + 24 * code.len()).map_err(HostError::Io)?;
    let (exit, deopt, failed) =
        (ops.new_dynamic_label(), ops.new_dynamic_label(), ops.new_dynamic_label());
    let mut c = Compiler {
        ops,
        code: &code,
        blocks: &blocks,
        mutation,
        block_labels: Vec::new(),
        exit_labels: HashMap::new(),
        side_exits: Vec::new(),
        exits: Vec::new(),
        exit_slots: Vec::new(),
        exit_stubs: Vec::new(),
        deferred: Vec::new(),
        exit,
        deopt,
        failed,
        block: Block { start: 0, end: 0, native: true, needs: 0, growth: 0 },
        window: Vec::new(),
        delta: 0,
        refs: [0; 16],
    };
    let entry = c.emit_trampoline();
    c.block_labels =
        blocks.list.iter().map(|b| b.native.then(|| c.ops.new_dynamic_label())).collect();
    let mut block_offsets = Vec::with_capacity(blocks.list.len());
    for (i, b) in blocks.list.iter().enumerate() {
        if b.native {
            block_offsets.push(Some(c.ops.offset()));
            c.compile_block(i, *b);
        } else {
            block_offsets.push(None);
        }
    }
    let stubs_offset = c.ops.offset();
    c.emit_stubs();
    let return_labels: Vec<(usize, DynamicLabel)> =
        blocks.return_points.iter().map(|&pc| (pc, c.label_for_pc(pc))).collect();
    c.emit_exit_labels();
    let mut return_offsets = Vec::with_capacity(return_labels.len());
    for (pc, label) in return_labels {
        let offset = c.ops.labels().resolve_dynamic(label).expect("every label is defined");
        return_offsets.push((pc, offset));
    }
    let Compiler { ops, exits, exit_slots, .. } = c;
    let buffer = ops.finalize().map_err(|_| {
        HostError::Io(std::io::Error::other("could not make the JIT's code executable"))
    })?;
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
        stubs_offset,
        table,
        ops: code,
        blocks,
        native_starts,
        exits,
        exit_slots,
    })
}

impl Compiler<'_> {
    // ----- the virtual stack -----

    // ----- blocks -----

    fn compile_block(&mut self, index: usize, b: Block) {
        self.block = b;
        self.window.clear();
        self.delta = 0;
        self.refs = [0; 16];
        let label = self.block_labels[index].expect("native block");
        assert!(b.len() <= MAX_BLOCK_LEN, "a block of {} instructions", b.len());
        let len = b.len() as i32;
        let fail = self.stub_with(0, After::CheckFailed);
        // Entry checks: `vsp - 8 * needs >= floor` and `vsp + 8 * growth <= cap`. Both sums
        // stay inside the address space (`slot_bytes` bounds the reach, `Code::enter` the
        // buffer), so comparing them as addresses is exact (model item 3).
        let (down, up) = (slot_bytes(b.needs), slot_bytes(b.growth));
        let ops = &mut self.ops;
        asm!(ops
            ; =>label
            ; sub fuel, len
            ; jb =>fail
        );
        if b.needs > 0 {
            let d = -down;
            asm!(ops
                ; lea scratch, [vsp + d]
                ; cmp scratch, [state + off::FLOOR]
                ; jb =>fail
            );
        }
        if b.growth > 0 {
            let d = up;
            asm!(ops
                ; lea scratch, [vsp + d]
                ; cmp scratch, [state + off::CAP]
                ; ja =>fail
            );
        }
        let mut open = true;
        for k in 0..b.len() {
            let op = self.code[b.start + k];
            open = self.compile_op(k, op);
            if !open {
                break;
            }
            self.trim();
        }
        if open {
            // Fell off the end of the block: continue at the next instruction.
            self.flush();
            let next = self.label_for_pc(b.end);
            let adjacent = self.blocks.starting_at.get(b.end).copied().flatten() == Some(index + 1)
                && self.blocks.list[index + 1].native;
            if !adjacent {
                let ops = &mut self.ops;
                asm!(ops; jmp =>next);
            }
        }
    }

    /// Ends the block with a jump to instruction `pc` (the virtual stack already flushed).
    fn jump_to(&mut self, pc: usize) {
        let label = self.label_for_pc(pc);
        let ops = &mut self.ops;
        asm!(ops; jmp =>label);
    }

    /// Compiles instruction `k` of the block; `false` when control never passes it.
    fn compile_op(&mut self, k: usize, op: Op) -> bool {
        let pc = self.block.start + k;
        match op {
            Op::Push(v) => self.push(Slot::Imm(v)),
            Op::Dup => self.copy(0),
            Op::Copy(Arg::Small(n)) if n <= STATIC_REACH => {
                let n = n as usize + usize::from(self.mutation == Some(Mutation::CopyOffByOne));
                self.copy(n);
            }
            Op::Copy(Arg::Small(n)) => self.dynamic_copy(k, n),
            Op::Swap => {
                let (a, b) = (self.nth(1), self.nth(0));
                self.load(a);
                let pinned: Vec<u8> = match self.window[a] {
                    Slot::Reg(r, _) => vec![r],
                    _ => vec![],
                };
                self.load_avoiding(b, &pinned);
                let dirty = |s: Slot| match s {
                    Slot::Reg(r, _) => Slot::Reg(r, false),
                    other => other,
                };
                let (sa, sb) = (dirty(self.window[a]), dirty(self.window[b]));
                self.window[a] = sb;
                self.window[b] = sa;
            }
            Op::Drop => {
                let s = self.pop();
                self.release(s);
            }
            Op::Slide(Arg::Small(n)) if n <= STATIC_REACH => {
                let n = if self.mutation == Some(Mutation::SlideOffByOne) {
                    n.saturating_sub(1)
                } else {
                    n
                };
                if n > 0 {
                    let t = self.nth(0);
                    self.load(t);
                    let top = self.window[t];
                    self.window.pop();
                    self.delta -= 1;
                    for _ in 0..n {
                        let s = self.pop();
                        self.release(s);
                    }
                    self.window.push(match top {
                        Slot::Reg(r, _) => Slot::Reg(r, false),
                        other => other,
                    });
                    self.delta += 1;
                }
            }
            Op::Slide(Arg::Neg) => {}
            Op::Slide(arg) => self.dynamic_slide(k, arg),
            Op::Add | Op::Sub | Op::Mul => return self.arith(k, op),
            Op::Div | Op::Mod => return self.divide(k, op),
            Op::Store => return self.store(k),
            Op::Retrieve => return self.retrieve(k),
            Op::Label => {}
            Op::Jz(Some(t)) | Op::Jn(Some(t)) => return self.branch(k, op, t),
            Op::Jmp(Some(t)) => {
                self.flush();
                self.jump_to(t);
                return false;
            }
            Op::Call(Some(t)) => {
                self.flush();
                let fail = self.exit_stub(k);
                let target = self.label_for_pc(t);
                let back = self.label_for_pc(pc + 1);
                let ops = &mut self.ops;
                asm!(ops
                    ; cmp csp, [state + off::CS_CAP]
                    ; jae =>fail
                    ; cmp rsp, [state + off::RSP_FLOOR]
                    ; jb =>fail
                );
                // The return index, which `ret` uses to index the return table: whole, even
                // past i32 (a sign-extended imm32 would turn it into a wild index).
                let back_index = (pc + 1) as i64;
                if fits_i32(back_index) {
                    asm!(ops; mov QWORD [csp], back_index as i32);
                } else {
                    asm!(ops; mov scratch, QWORD back_index; mov [csp], scratch);
                }
                asm!(ops
                    ; add csp, 8
                    ; sub rsp, 8
                    ; call =>target
                    ; add rsp, 8
                    ; jmp =>back
                );
                return false;
            }
            Op::Ret => {
                self.flush();
                let fail = self.exit_stub(k);
                let ops = &mut self.ops;
                let table = ops.new_dynamic_label();
                asm!(ops
                    ; cmp csp, [state + off::CS_BASE]
                    ; je =>fail
                    ; sub csp, 8
                    ; cmp rsp, [state + off::RSP_BASE]
                    ; je =>table
                    ; ret
                    ; =>table
                    ; mov scratch, [csp]
                    ; mov rax, [state + off::TABLE]
                    ; jmp QWORD [rax + scratch * 8]
                );
                return false;
            }
            Op::End => {
                self.flush();
                let exit = self.exit;
                let ops = &mut self.ops;
                asm!(ops
                    ; mov eax, Exit::Ended as i32
                    ; jmp =>exit
                );
                return false;
            }
            Op::PrintC | Op::PrintI => {
                let t = self.nth(0);
                let v = self.src(t);
                let bail = self.exit_stub(k);
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
                let stub = self.exit_stub(k);
                let ops = &mut self.ops;
                asm!(ops; jmp =>stub);
                return false;
            }
        }
        true
    }

    /// `dup` (n = 0) and `copy n` within the statically checked reach.
    fn copy(&mut self, n: usize) {
        let j = self.nth(n);
        self.load(j);
        let slot = match self.window[j] {
            Slot::Reg(r, _) => Slot::Reg(r, false),
            other => other,
        };
        self.push(slot);
    }

    /// `copy n` beyond the static reach (`STATIC_REACH < n <= HUGE`): checks where it runs
    /// that the stack holds the item.
    ///
    /// The item is `n` below the virtual top, at slot `delta - 1 - n` from `vsp`. When that is
    /// at or above `vsp`, the block pushed it itself (within its checked growth). Otherwise it
    /// is `below = n + 1 - delta` slots under `vsp`, and `8 * below < 2^52` (`n <= 2^48`,
    /// `|delta| <= MAX_REACH`): the code compares that distance with `vsp - floor`, the bytes
    /// the stack holds above `floor` (never negative: every block is entered with
    /// `vsp >= floor`, and `vsp` moves only when a block ends), and forms the address
    /// `vsp - 8 * below` only once it is known to be at or above `floor`, so it cannot wrap.
    /// The slot is below every cached item (`n > STATIC_REACH >= MAX_WINDOW`), so memory
    /// holds it.
    fn dynamic_copy(&mut self, k: usize, n: u64) {
        assert!(n > STATIC_REACH && n <= HUGE, "a dynamic copy of {n}");
        let below = n as i64 + 1 - i64::from(self.delta);
        let r = self.alloc();
        if below <= 0 {
            // Pushed by this block: `0 <= 8 * (delta - 1 - n) < 8 * growth`.
            let disp = slot_bytes((-below) as usize);
            let ops = &mut self.ops;
            asm!(ops; mov Rq(r), [vsp + disp]);
            self.push(Slot::Reg(r, false));
            return;
        }
        let stub = self.exit_stub(k);
        let bytes = below * 8;
        let ops = &mut self.ops;
        asm!(ops
            ; mov Rq(r), QWORD bytes
            ; mov scratch, vsp
            ; sub scratch, [state + off::FLOOR]
            ; cmp scratch, Rq(r)
            ; jb =>stub
            ; mov scratch, vsp
            ; sub scratch, Rq(r)
            ; mov Rq(r), [scratch]
        );
        self.push(Slot::Reg(r, false));
    }

    /// `slide n` whose effect depends on the depth (it ends its block).
    ///
    /// After the flush `vsp` is the top's slot, at or above `floor` (the top is within the
    /// block's checked needs). The code compares `vsp - floor`, the bytes of items below the
    /// top that compiled code may remove, with `8 * count` (`count < 2^48`, so no overflow),
    /// and moves `vsp` down by that much only when it does not pass `floor`; otherwise
    /// everything below the top goes, which compiled code does only when there is no big
    /// value (`floor == stack_base`).
    fn dynamic_slide(&mut self, k: usize, arg: Arg) {
        let t = self.nth(0);
        let top = self.in_reg(t);
        let n = self.alloc_avoiding(&[top]);
        let all = self.ops.new_dynamic_label();
        let done = self.ops.new_dynamic_label();
        // Pop the top and flush the rest; the stub puts the top back.
        self.window.pop();
        self.delta -= 1;
        self.flush();
        self.window.push(Slot::Reg(top, false));
        self.delta = 1;
        let stub = self.exit_stub(k);
        self.window.clear();
        self.delta = 0;
        let ops = &mut self.ops;
        if let Arg::Small(count) = arg {
            assert!(count < HUGE, "a dynamic slide of {count}");
            let bytes = (count * 8) as i64;
            asm!(ops
                ; mov Rq(n), QWORD bytes
                ; mov scratch, vsp
                ; sub scratch, [state + off::FLOOR]
                ; cmp scratch, Rq(n)
                ; jb =>all
                ; sub vsp, Rq(n)
                ; mov [vsp], Rq(top)
                ; add vsp, 8
                ; jmp =>done
            );
        }
        asm!(ops
            ; =>all
            ; mov scratch, [state + off::FLOOR]
            ; cmp scratch, [state + off::STACK_BASE]
            ; jne =>stub
            ; mov vsp, scratch
            ; mov [vsp], Rq(top)
            ; add vsp, 8
            ; =>done
        );
        self.refs = [0; 16];
    }

    /// `add`, `sub`, `mul` with overflow detection.
    fn arith(&mut self, k: usize, op: Op) -> bool {
        let (ja, jb) = (self.nth(1), self.nth(0));
        let check = self.mutation != Some(Mutation::SkipOverflowCheck);
        if let (Slot::Imm(a), Slot::Imm(b)) = (self.window[ja], self.window[jb]) {
            let r = match op {
                Op::Add => a.checked_add(b),
                Op::Sub => a.checked_sub(b),
                _ => a.checked_mul(b),
            };
            let r = match (r, check) {
                (Some(r), _) => r,
                (None, false) => match op {
                    Op::Add => a.wrapping_add(b),
                    Op::Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                },
                (None, true) => {
                    let stub = self.exit_stub(k);
                    let ops = &mut self.ops;
                    asm!(ops; jmp =>stub);
                    return false;
                }
            };
            self.window.truncate(self.window.len() - 2);
            self.delta -= 2;
            self.push(Slot::Imm(r));
            return true;
        }
        let r = self.alloc();
        let stub = self.exit_stub(k);
        let b = self.pop();
        let a = self.pop();
        let ops = &mut self.ops;
        // `add` and `mul` commute: keep a constant as the immediate operand.
        let (a, b) = match (op, a, b) {
            (Op::Add | Op::Mul, Src::Imm(_), b) => (b, a),
            other => (other.1, other.2),
        };
        match (op, b) {
            (Op::Mul, Src::Imm(v)) if fits_i32(v) => match a {
                Src::Reg(ra) => asm!(ops; imul Rq(r), Rq(ra), v as i32),
                Src::Mem(d) => asm!(ops; imul Rq(r), [vsp + d], v as i32),
                Src::Imm(_) => unreachable!("constants were folded"),
            },
            _ => {
                emit_mov(ops, r, a);
                match (op, b) {
                    (Op::Add, Src::Reg(s)) => asm!(ops; add Rq(r), Rq(s)),
                    (Op::Add, Src::Mem(d)) => asm!(ops; add Rq(r), [vsp + d]),
                    (Op::Add, Src::Imm(v)) if fits_i32(v) => asm!(ops; add Rq(r), v as i32),
                    (Op::Sub, Src::Reg(s)) => asm!(ops; sub Rq(r), Rq(s)),
                    (Op::Sub, Src::Mem(d)) => asm!(ops; sub Rq(r), [vsp + d]),
                    (Op::Sub, Src::Imm(v)) if fits_i32(v) => asm!(ops; sub Rq(r), v as i32),
                    (_, Src::Reg(s)) => asm!(ops; imul Rq(r), Rq(s)),
                    (_, Src::Mem(d)) => asm!(ops; imul Rq(r), [vsp + d]),
                    (_, Src::Imm(v)) => {
                        asm!(ops; mov scratch, QWORD v);
                        match op {
                            Op::Add => asm!(ops; add Rq(r), scratch),
                            Op::Sub => asm!(ops; sub Rq(r), scratch),
                            _ => asm!(ops; imul Rq(r), scratch),
                        }
                    }
                }
            }
        }
        if check {
            asm!(ops; jo =>stub);
        }
        self.release(a);
        self.release(b);
        self.push(Slot::Reg(r, false));
        true
    }

    /// Floored `div` and `mod`.
    fn divide(&mut self, k: usize, op: Op) -> bool {
        let (ja, jb) = (self.nth(1), self.nth(0));
        let truncate = self.mutation == Some(Mutation::TruncatedDivision);
        let is_div = op == Op::Div;
        match (self.window[ja], self.window[jb]) {
            (_, Slot::Imm(0)) => {
                let stub = self.exit_stub(k);
                let ops = &mut self.ops;
                asm!(ops; jmp =>stub);
                return false;
            }
            (Slot::Imm(a), Slot::Imm(b)) => {
                if a == i64::MIN && b == -1 && is_div {
                    let stub = self.exit_stub(k);
                    let ops = &mut self.ops;
                    asm!(ops; jmp =>stub);
                    return false;
                }
                let r = match (is_div, truncate) {
                    // i64::MIN mod -1 overflows in Rust (and in hardware): the answer is 0.
                    (false, _) if b == -1 => 0,
                    (true, false) => num_integer::Integer::div_floor(&a, &b),
                    (false, false) => num_integer::Integer::mod_floor(&a, &b),
                    (true, true) => a.wrapping_div(b),
                    (false, true) => a.wrapping_rem(b),
                };
                self.window.truncate(self.window.len() - 2);
                self.delta -= 2;
                self.push(Slot::Imm(r));
                return true;
            }
            (_, Slot::Imm(1)) => {
                let b = self.pop();
                self.release(b);
                if !is_div {
                    let a = self.pop();
                    self.release(a);
                    self.push(Slot::Imm(0));
                }
                return true;
            }
            (_, Slot::Imm(-1)) if !is_div => {
                let b = self.pop();
                let a = self.pop();
                self.release(a);
                self.release(b);
                self.push(Slot::Imm(0));
                return true;
            }
            (_, Slot::Imm(-1)) => {
                let r = self.alloc();
                let stub = self.exit_stub(k);
                let b = self.pop();
                let a = self.pop();
                let ops = &mut self.ops;
                emit_mov(ops, r, a);
                asm!(ops; neg Rq(r); jo =>stub);
                self.release(a);
                self.release(b);
                self.push(Slot::Reg(r, false));
                return true;
            }
            (_, Slot::Imm(p)) if p > 1 && p.count_ones() == 1 && !truncate => {
                let shift = p.trailing_zeros() as i8;
                let r = self.alloc();
                let b = self.pop();
                let a = self.pop();
                let ops = &mut self.ops;
                emit_mov(ops, r, a);
                if is_div {
                    asm!(ops; sar Rq(r), shift);
                } else if fits_i32(p - 1) {
                    asm!(ops; and Rq(r), (p - 1) as i32);
                } else {
                    asm!(ops; mov scratch, QWORD p - 1; and Rq(r), scratch);
                }
                self.release(a);
                self.release(b);
                self.push(Slot::Reg(r, false));
                return true;
            }
            _ => {}
        }
        // The general case: idiv with rax and rdx free, the divisor in another register.
        let known = match self.window[jb] {
            Slot::Imm(v) => Some(v),
            _ => None,
        };
        self.evict(RAX);
        self.evict(RDX);
        let jb = self.nth(0);
        let divisor = match self.window[jb] {
            Slot::Reg(r, _) => r,
            _ => {
                let r = self.alloc_avoiding(&[RAX, RDX]);
                let src = self.src(jb);
                emit_mov(&mut self.ops, r, src);
                if let Slot::Mem = self.window[jb] {
                    self.window[jb] = Slot::Reg(r, true);
                } else {
                    self.window[jb] = Slot::Reg(r, false);
                }
                self.refs[r as usize] += 1;
                r
            }
        };
        let stub = self.exit_stub(k);
        let b = self.pop();
        let a = self.pop();
        let ops = &mut self.ops;
        let normal = ops.new_dynamic_label();
        let join = ops.new_dynamic_label();
        if known.is_none() {
            asm!(ops
                ; test Rq(divisor), Rq(divisor)
                ; jz =>stub
                ; cmp Rq(divisor), -1
                ; jne =>normal
            );
            if is_div {
                emit_mov(ops, RAX, a);
                asm!(ops; neg rax; jo =>stub; jmp =>join);
            } else {
                asm!(ops; xor edx, edx; jmp =>join);
            }
        }
        asm!(ops; =>normal);
        emit_mov(ops, RAX, a);
        asm!(ops
            ; cqo
            ; idiv Rq(divisor)
        );
        if !truncate {
            // Floor: when the remainder is non-zero and its sign differs from the divisor's.
            asm!(ops
                ; test rdx, rdx
                ; jz =>join
                ; mov scratch, rdx
                ; xor scratch, Rq(divisor)
                ; jns =>join
            );
            if is_div {
                asm!(ops; sub rax, 1);
            } else {
                asm!(ops; add rdx, Rq(divisor));
            }
        }
        asm!(ops; =>join);
        self.release(a);
        self.release(b);
        self.push(Slot::Reg(if is_div { RAX } else { RDX }, false));
        true
    }

    /// Applies the `HeapIgnoresHighBits` mutation to a register address.
    fn masked(&mut self, addr: u8) -> u8 {
        if self.mutation == Some(Mutation::HeapIgnoresHighBits) {
            let ops = &mut self.ops;
            asm!(ops; mov scratch, Rq(addr); and scratch, 0xFFFF);
            11
        } else {
            addr
        }
    }

    /// The heap address in window slot `ja` of instruction `k`, when it is a constant small
    /// enough to use as a displacement: `Some(Some(c))`; `Some(None)` when it is not constant
    /// (or too large); `None` when it is a negative constant, after emitting the jump that
    /// leaves the block there (the stepper traps `negative-address`).
    fn constant_address(&mut self, ja: usize, k: usize) -> Option<Option<i64>> {
        match self.window[ja] {
            Slot::Imm(c) if c < 0 => {
                let stub = self.exit_stub(k);
                let ops = &mut self.ops;
                asm!(ops; jmp =>stub);
                None
            }
            Slot::Imm(c) if c < (1 << 28) => {
                Some(Some(if self.mutation == Some(Mutation::HeapIgnoresHighBits) {
                    c & 0xFFFF
                } else {
                    c
                }))
            }
            _ => Some(None),
        }
    }

    /// `store`: dense cells inline, everything else through a host call.
    fn store(&mut self, k: usize) -> bool {
        let (ja, jv) = (self.nth(1), self.nth(0));
        let Some(addr_const) = self.constant_address(ja, k) else {
            return false;
        };
        let mut pinned = Vec::new();
        if addr_const.is_none() {
            pinned.push(self.in_reg(ja));
        }
        self.load_avoiding(jv, &pinned);
        if let Slot::Reg(r, _) = self.window[jv] {
            pinned.push(r);
        }
        // A register address for the mutation's masking needs its own register (the scratch
        // register holds the written flags' base).
        let masked_reg =
            if addr_const.is_none() && self.mutation == Some(Mutation::HeapIgnoresHighBits) {
                Some(self.alloc_avoiding(&pinned))
            } else {
                None
            };
        let stub = self.exit_stub(k);
        let live = self.live();
        let failed = self.failed;
        let v = self.pop();
        let a = self.pop();
        let slow = self.ops.new_dynamic_label();
        let first = self.ops.new_dynamic_label();
        let join = self.ops.new_dynamic_label();
        let ops = &mut self.ops;
        let addr = match (a, masked_reg) {
            (Src::Reg(r), Some(m)) => {
                asm!(ops; mov Rq(m), Rq(r); and Rq(m), 0xFFFF);
                Src::Reg(m)
            }
            (a, _) => a,
        };
        // Fast path: below the written prefix, a cell is dense, native and written already.
        let check = ops.new_dynamic_label();
        match (addr_const, addr) {
            (Some(c), _) => asm!(ops
                ; cmp QWORD [state + off::HEAP_PREFIX], c as i32
                ; jbe =>check
            ),
            (None, Src::Reg(ra)) => asm!(ops
                ; cmp Rq(ra), [state + off::HEAP_PREFIX]
                ; jae =>check
            ),
            _ => unreachable!("a non-constant address is in a register"),
        }
        let write = move |ops: &mut Assembler| match (addr_const, addr, v) {
            (Some(c), _, Src::Reg(rv)) => asm!(ops; mov [cells + (c * 8) as i32], Rq(rv)),
            (Some(c), _, Src::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + (c * 8) as i32], x as i32)
            }
            (Some(c), _, Src::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + (c * 8) as i32], scratch)
            }
            (None, Src::Reg(ra), Src::Reg(rv)) => asm!(ops; mov [cells + Rq(ra) * 8], Rq(rv)),
            (None, Src::Reg(ra), Src::Imm(x)) if fits_i32(x) => {
                asm!(ops; mov QWORD [cells + Rq(ra) * 8], x as i32)
            }
            (None, Src::Reg(ra), Src::Imm(x)) => {
                asm!(ops; mov scratch, QWORD x; mov [cells + Rq(ra) * 8], scratch)
            }
            _ => unreachable!("the value is in a register or constant"),
        };
        write(ops);
        asm!(ops; =>join);
        let mark = move |ops: &mut Assembler| match (addr_const, addr) {
            (Some(c), _) => asm!(ops; mov BYTE [scratch + c as i32], 1),
            (None, Src::Reg(ra)) => asm!(ops; mov BYTE [scratch + Rq(ra)], 1),
            _ => unreachable!("a non-constant address is in a register"),
        };
        let arg_addr = match addr_const {
            Some(c) => Src::Imm(c),
            None => addr,
        };
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            // Above the written prefix: a dense native cell, written or not, or the host.
            asm!(ops; =>check);
            match (addr_const, addr) {
                (Some(c), _) => {
                    let c32 = c as i32;
                    asm!(ops
                        ; cmp hlimit, c32
                        ; jbe =>slow
                        ; mov scratch, [state + off::HEAP_WRITTEN]
                        ; cmp BYTE [scratch + c32], 0
                        ; je =>first
                    );
                }
                (None, Src::Reg(ra)) => asm!(ops
                    ; cmp Rq(ra), hlimit
                    ; jae =>slow
                    ; mov scratch, [state + off::HEAP_WRITTEN]
                    ; cmp BYTE [scratch + Rq(ra)], 0
                    ; je =>first
                ),
                _ => unreachable!("a non-constant address is in a register"),
            }
            write(ops);
            asm!(ops; jmp =>join);
            // First write of a dense cell: count it against the heap limit, and extend the
            // written prefix when it is the cell just above it.
            let counted = ops.new_dynamic_label();
            asm!(ops
                ; =>first
                ; mov scratch, [state + off::HEAP_COUNT]
                ; cmp scratch, [state + off::HEAP_MAX]
                ; jae =>stub
                ; add scratch, 1
                ; mov [state + off::HEAP_COUNT], scratch
                ; mov scratch, [state + off::HEAP_WRITTEN]
            );
            mark(ops);
            match (addr_const, addr) {
                (Some(c), _) => asm!(ops; cmp QWORD [state + off::HEAP_PREFIX], c as i32),
                (None, Src::Reg(ra)) => asm!(ops; cmp Rq(ra), [state + off::HEAP_PREFIX]),
                _ => unreachable!("a non-constant address is in a register"),
            }
            asm!(ops
                ; jne =>counted
                ; add QWORD [state + off::HEAP_PREFIX], 1
                ; =>counted
            );
            write(ops);
            asm!(ops; jmp =>join);
            // Outside the native dense cells.
            asm!(ops; =>slow);
            emit_to_shared(ops, off::ARG0, arg_addr);
            emit_to_shared(ops, off::ARG1, v);
            emit_host_call(ops, &live, runtime::host_store as *const () as usize);
            asm!(ops
                ; mov cells, [state + off::HEAP_CELLS]
                ; mov hlimit, [state + off::HEAP_LIMIT]
            );
            emit_host_status(ops, stub, failed);
            asm!(ops; jmp =>join);
        }));
        self.release(v);
        self.release(a);
        true
    }

    /// `retrieve`: dense cells inline, everything else through a host call.
    fn retrieve(&mut self, k: usize) -> bool {
        let ja = self.nth(0);
        let Some(addr_const) = self.constant_address(ja, k) else {
            return false;
        };
        let pinned = if addr_const.is_none() { vec![self.in_reg(ja)] } else { vec![] };
        let r = self.alloc_avoiding(&pinned);
        let stub = self.exit_stub(k);
        let live = self.live();
        let failed = self.failed;
        let a = self.pop();
        let slow = self.ops.new_dynamic_label();
        let join = self.ops.new_dynamic_label();
        let addr = match (addr_const, a) {
            (None, Src::Reg(ra)) => Some(self.masked(ra)),
            _ => None,
        };
        let ops = &mut self.ops;
        match (addr_const, addr) {
            (Some(c), _) => {
                let c32 = c as i32;
                asm!(ops
                    ; cmp hlimit, c32
                    ; jbe =>slow
                    ; mov Rq(r), [cells + c32 * 8]
                );
            }
            (None, Some(ra)) => asm!(ops
                ; cmp Rq(ra), hlimit
                ; jae =>slow
                ; mov Rq(r), [cells + Rq(ra) * 8]
            ),
            _ => unreachable!("a non-constant address is in a register"),
        }
        asm!(ops; =>join);
        let arg_addr = match (addr_const, addr) {
            (Some(c), _) => Src::Imm(c),
            (None, Some(ra)) => Src::Reg(ra),
            _ => unreachable!("a non-constant address is in a register"),
        };
        self.deferred.push(Box::new(move |ops: &mut Assembler| {
            asm!(ops; =>slow);
            emit_to_shared(ops, off::ARG0, arg_addr);
            emit_host_call(ops, &live, runtime::host_retrieve as *const () as usize);
            emit_host_status(ops, stub, failed);
            asm!(ops
                ; mov Rq(r), [state + off::RET]
                ; jmp =>join
            );
        }));
        self.release(a);
        self.push(Slot::Reg(r, false));
        true
    }

    /// `jz` and `jn` (to a defined label).
    fn branch(&mut self, k: usize, op: Op, target: usize) -> bool {
        let cond = self.pop();
        let last = k + 1 == self.block.len();
        let is_jz = matches!(op, Op::Jz(_));
        let takes_zero = self.mutation == Some(Mutation::JnTakesZero);
        if let Src::Imm(v) = cond {
            let taken = if is_jz { v == 0 } else { v < 0 || (takes_zero && v == 0) };
            if taken {
                self.flush();
                let refund = (self.block.len() - k - 1) as i32;
                if refund != 0 {
                    let ops = &mut self.ops;
                    asm!(ops; add fuel, refund);
                }
                self.jump_to(target);
                return false;
            }
            return true;
        }
        let target_label = self.label_for_pc(target);
        let mut cond = cond;
        let dest = if last {
            // The not-taken path flushes too: flush first and branch straight to the target.
            let moved = self.delta * 8;
            self.flush();
            if let Src::Mem(d) = cond {
                cond = Src::Mem(d - moved);
            }
            target_label
        } else {
            let label = self.ops.new_dynamic_label();
            self.side_exits.push(SideExit {
                label,
                window: self.window.clone(),
                delta: self.delta,
                refund: (self.block.len() - k - 1) as u32,
                target: target_label,
            });
            label
        };
        let ops = &mut self.ops;
        match cond {
            Src::Reg(r) => asm!(ops; test Rq(r), Rq(r)),
            Src::Mem(d) => asm!(ops; cmp QWORD [vsp + d], 0),
            Src::Imm(_) => unreachable!("constant conditions were decided"),
        }
        match (is_jz, takes_zero) {
            (true, _) => asm!(ops; jz =>dest),
            (false, false) => asm!(ops; js =>dest),
            (false, true) => asm!(ops; jle =>dest),
        }
        self.release(cond);
        true
    }
}

/// The listing `twinspace disasm --native` shows.
pub(crate) fn disassemble(
    program: &Program,
    mutation: Option<Mutation>,
) -> Result<String, HostError> {
    let ops = blocks::decode(program);
    let blocks = blocks::analyse(&ops, mutation);
    let code = compile(ops, blocks, mutation)?;
    Ok(code.listing(program))
}
