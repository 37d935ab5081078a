//! Stack instructions: `dup`, `copy`, `swap`, `drop` and `slide`, on the virtual stack where
//! the count is within the statically checked reach, and checked where they run beyond it.
//!
//! Invariant it keeps (safety model item 3, *dynamic `copy n`* and *dynamic `slide n`*): a
//! slot beyond the block's checked reach is addressed only after the code has compared the
//! bytes between `vsp` and `floor` with the distance it needs, so no address it forms can
//! wrap or fall below `floor`.

use dynasmrt::{DynasmApi, DynasmLabelApi, dynasm};

use super::code::Slot;
use super::{Compiler, slot_bytes};
use crate::jit::blocks::{Arg, HUGE, STATIC_REACH};
use crate::jit::coverage::{self, Decision};
use crate::jit::mutated;
use crate::jit::runtime::offsets as off;

impl Compiler<'_> {
    /// `dup` (n = 0) and `copy n` within the statically checked reach.
    pub(super) fn copy(&mut self, n: usize) {
        let j = self.nth(n);
        coverage::hit(Decision::pick(
            self.window[j] == Slot::Mem,
            Decision::CopyFromMemory,
            Decision::CopyFromCache,
        ));
        self.load(j);
        let slot = match self.window[j] {
            Slot::Reg(r, _) => Slot::Reg(r, false),
            other => other,
        };
        self.push(slot);
    }

    /// `swap`: exchanges the top two entries; both end up in registers that memory does not
    /// hold at their new slots.
    pub(super) fn swap(&mut self) {
        coverage::hit(Decision::Swap);
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

    /// `slide n` within the statically checked reach: the top stays, the `n` items under it go.
    pub(super) fn slide(&mut self, n: u64) {
        coverage::hit(Decision::pick(n > 0, Decision::SlideStatic, Decision::SlideZero));
        let n = if mutated!(self.mutation, SlideOffByOne) { n.saturating_sub(1) } else { n };
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
    pub(super) fn dynamic_copy(&mut self, k: usize, n: u64) {
        assert!(n > STATIC_REACH && n <= HUGE, "a dynamic copy of {n}");
        let below = n as i64 + 1 - i64::from(self.delta);
        let r = self.alloc();
        coverage::hit(Decision::pick(
            below <= 0,
            Decision::CopyDynamicOwn,
            Decision::CopyDynamicChecked,
        ));
        if below <= 0 {
            // Pushed by this block: `0 <= 8 * (delta - 1 - n) < 8 * growth`.
            let disp = slot_bytes((-below) as usize);
            let ops = &mut self.ops;
            asm!(ops; mov Rq(r), [vsp + disp]);
            self.push(Slot::Reg(r, false));
            return;
        }
        let stub = self.exit_stub(k, Decision::ExitDynamicCopy);
        let bytes = below * 8;
        let ops = &mut self.ops;
        if mutated!(self.mutation, WrappingCopyCheck) {
            // The check as it once was: the address first, which wraps for a huge `below`.
            asm!(ops
                ; mov scratch, QWORD -bytes
                ; add scratch, vsp
                ; cmp scratch, [state + off::FLOOR]
                ; jb =>stub
                ; mov Rq(r), [scratch]
            );
            self.push(Slot::Reg(r, false));
            return;
        }
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
    pub(super) fn dynamic_slide(&mut self, k: usize, arg: Arg) {
        coverage::hit(Decision::pick(
            arg == Arg::Huge,
            Decision::SlideDynamicHuge,
            Decision::SlideDynamicCount,
        ));
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
        let stub = self.exit_stub(k, Decision::ExitDynamicSlide);
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
        self.known_cells.clear();
        self.moved = None;
    }
}
