//! Coverage of the JIT's own decisions: every emission path the code generator can take and
//! every way out of compiled code, each with a stable kebab-case name ([`Decision`]), and
//! how often a thread's runs reached each ([`take`], [`Counts`]).
//!
//! A decision is counted where the JIT makes it, never per executed instruction: a
//! [`Kind::Compile`] decision once per instruction (or block) when its code is generated, a
//! [`Kind::Run`] decision when an exit, a hand-over, a host call's outcome or a driver
//! decision is taken at run time. Nothing is counted inside compiled code, so the choices
//! compiled code makes as it runs are not decisions here: a store below the written prefix,
//! a dense cell's first write, a native `ret` or one through the return table, a side exit
//! taken. What leaves compiled code (an exit, a host call) is counted, and so is the code
//! each choice was compiled into. The counts live in a per-thread table of plain cells: a JIT run counts on the
//! thread that runs it, with no synchronisation, and [`take`] drains that thread's table,
//! so a caller attributes exactly the runs it made (the fuzzer drains after every case, on
//! each worker thread).
//!
//! Invariants it keeps: names are unique, kebab-case and fixed (a test pins them: tools and
//! tests name decisions by them, like trap codes); the set is complete for what the JIT
//! does, so a new emission path or exit comes with a new name here.

use std::cell::Cell;
use std::fmt::Write as _;

/// When a decision is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// When code is generated (or the program cut into blocks): once per site.
    Compile,
    /// When it is taken at run time: an exit from compiled code, a hand-over, a host call's
    /// outcome, a driver decision.
    Run,
}

impl Kind {
    /// `compile` or `run`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Compile => "compile",
            Kind::Run => "run",
        }
    }
}

macro_rules! decisions {
    ($($variant:ident $name:literal $kind:ident $about:literal,)*) => {
        /// One decision of the JIT: an emission path or a way out of compiled code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Decision {
            $(#[doc = $about] $variant,)*
        }

        impl Decision {
            /// Every decision, in report order.
            pub const ALL: &'static [Decision] = &[$(Decision::$variant,)*];

            /// The stable kebab-case name, e.g. `add-imm64`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Decision::$variant => $name,)*
                }
            }

            /// When it is counted.
            pub fn kind(self) -> Kind {
                match self {
                    $(Decision::$variant => Kind::$kind,)*
                }
            }

            /// What it is, in a sentence.
            pub fn about(self) -> &'static str {
                match self {
                    $(Decision::$variant => $about,)*
                }
            }
        }
    };
}

decisions! {
    // Block analysis (blocks.rs).
    BlockCutReach "block-cut-at-max-reach" Compile "a straight run is cut where its stack reach would pass MAX_REACH",
    BlockCutLength "block-cut-at-max-block-len" Compile "a straight run is cut at MAX_BLOCK_LEN instructions",
    StepperPushBig "stepper-only-push-big" Compile "a literal beyond 64 bits: a block the stepper runs",
    StepperRead "stepper-only-read" Compile "readc or readi: a block the stepper runs",
    StepperCopyFar "stepper-only-copy" Compile "copy with a negative count or one of 2^48 or more: a block the stepper runs",
    StepperUndefinedLabel "stepper-only-undefined-label" Compile "call, jmp, jz or jn to an undefined label: a block the stepper runs",
    // Block entry and end (flow.rs).
    BlockChecksNeeds "block-checks-needs" Compile "a block's entry check compares vsp - 8 * needs with floor",
    BlockChecksGrowth "block-checks-growth" Compile "a block's entry check compares vsp + 8 * growth with cap",
    BlockFallsIntoNext "block-falls-into-next" Compile "a block runs on into the native block right after it",
    BlockJumpsToNext "block-jumps-to-next" Compile "a block that runs off its end jumps to the next instruction's code",
    ExitLabel "exit-label-to-stepper" Compile "a jump or fall-through target where no native block starts gets a stub to the stepper",
    // Stack instructions (compile.rs, stack.rs).
    CopyStatic "copy-static" Compile "dup or copy n (n <= STATIC_REACH) on the virtual stack",
    CopyFromMemory "copy-source-in-memory" Compile "the copied item is loaded from its stack slot",
    CopyFromCache "copy-source-cached" Compile "the copied item is a register or a constant already",
    CopyDynamicOwn "copy-dynamic-pushed-by-block" Compile "copy n beyond STATIC_REACH of an item the block pushed itself",
    CopyDynamicChecked "copy-dynamic-checked" Compile "copy n beyond STATIC_REACH checked against floor at run time",
    Swap "swap" Compile "swap of the top two window entries",
    Drop "drop" Compile "drop of the top window entry",
    SlideStatic "slide-static" Compile "slide n (0 < n <= STATIC_REACH) on the virtual stack",
    SlideZero "slide-zero" Compile "slide 0: nothing to do",
    SlideNegative "slide-negative" Compile "slide with a negative count: nothing to do",
    SlideDynamicCount "slide-dynamic-count" Compile "slide n beyond STATIC_REACH, compared with the depth at run time",
    SlideDynamicHuge "slide-dynamic-huge" Compile "slide of 2^48 or more: everything below the top goes",
    // Arithmetic (arith.rs).
    ArithFold "arith-fold" Compile "add, sub or mul of two constants folded",
    ArithFoldOverflow "arith-fold-overflow" Compile "add, sub or mul of two constants that overflows: the stepper runs it",
    ArithInPlace "arith-in-place" Compile "optimising: add or sub into an operand's register that nothing else holds (undone before an overflow exit)",
    DivideInPlace "divide-in-place" Compile "optimising: div or mod by a power of two shifted or masked in the dividend's register, which nothing else holds",
    AddCommuted "add-constant-left-commuted" Compile "c + x: the constant becomes the immediate operand",
    MulCommuted "mul-constant-left-commuted" Compile "c * x: the constant becomes the immediate operand",
    SubConstantMinuend "sub-constant-minuend" Compile "c - x: the constant is materialised, then x subtracted",
    ArithLeftInMemory "arith-left-in-memory" Compile "add, sub or mul whose left operand is read from its stack slot",
    AddRegister "add-register" Compile "add of a register",
    AddMemory "add-memory" Compile "add of a stack slot",
    AddImm32 "add-imm32" Compile "add of a constant that fits 32 bits",
    AddImm64 "add-imm64" Compile "add of a constant that needs 64 bits (through the scratch register)",
    SubRegister "sub-register" Compile "sub of a register",
    SubMemory "sub-memory" Compile "sub of a stack slot",
    SubImm32 "sub-imm32" Compile "x - c with c fitting 32 bits",
    SubImm64 "sub-imm64" Compile "x - c with c needing 64 bits (-2^31 - 1 and beyond)",
    MulRegister "mul-register" Compile "mul by a register",
    MulMemory "mul-memory" Compile "mul by a stack slot",
    MulImm32 "mul-imm32" Compile "mul by a constant that fits 32 bits (three-operand imul)",
    MulImm64 "mul-imm64" Compile "mul by a constant that needs 64 bits",
    DivideByConstantZero "divide-by-constant-zero" Compile "div or mod by the constant 0: the stepper traps",
    DivideFold "divide-fold" Compile "div or mod of two constants folded",
    DivideFoldOverflow "div-fold-min-by-minus-one" Compile "i64::MIN div -1 of constants: the stepper makes the big result",
    ModFoldMinusOne "mod-fold-by-minus-one" Compile "c mod -1 of constants folded to 0 (no hardware remainder)",
    DivByOne "div-by-one" Compile "x div 1: the divisor is dropped",
    ModByOne "mod-by-one" Compile "x mod 1: 0",
    ModByMinusOne "mod-by-minus-one" Compile "x mod -1: 0",
    DivByMinusOne "div-by-minus-one" Compile "x div -1: neg, leaving for the stepper on overflow",
    DivByPowerOfTwo "div-by-power-of-two" Compile "x div 2^k: an arithmetic shift",
    ModByPowerOfTwo "mod-by-power-of-two-imm32" Compile "x mod 2^k (k <= 31): and with an immediate",
    ModByPowerOfTwoWide "mod-by-power-of-two-imm64" Compile "x mod 2^k (k >= 32): and with a 64-bit mask",
    DivKnownDivisor "div-known-divisor" Compile "div by a constant with no short sequence: idiv without run-time checks",
    ModKnownDivisor "mod-known-divisor" Compile "mod by a constant with no short sequence: idiv without run-time checks",
    DivDynamicDivisor "div-dynamic-divisor" Compile "div by a value known at run time: checks for 0 and -1, then idiv",
    ModDynamicDivisor "mod-dynamic-divisor" Compile "mod by a value known at run time: checks for 0 and -1, then idiv",
    DivisorInRegister "divisor-in-register" Compile "the idiv divisor is in a register already",
    DivisorLoaded "divisor-loaded" Compile "the idiv divisor is loaded from its stack slot",
    DivisorMaterialised "divisor-materialised" Compile "the idiv divisor is a constant put in a register",
    DividendInRegister "dividend-in-register" Compile "the idiv dividend comes from a register",
    DividendInMemory "dividend-in-memory" Compile "the idiv dividend is read from its stack slot",
    DividendConstant "dividend-constant" Compile "c div x or c mod x: the dividend is a constant",
    // The optimising tier (fastdiv.rs, entry.rs).
    DivideShortForm "divide-short-form" Compile "optimising: a run-time div or mod tries the short (floating-point) division when both operands fit 32 bits",
    DivideByMultiplying "divide-by-multiplying" Compile "optimising: div or mod by a constant (not a power of two, >= 3) by multiplication",
    EntryChecked "entry-checked" Compile "optimising: a jump, branch, call or fall-through enters a block past checks its own imply",
    EntrySkipsFloor "entry-skips-floor-check" Compile "optimising: a checked entry skips the target's stack-floor check",
    EntrySkipsCapacity "entry-skips-capacity-check" Compile "optimising: a checked entry skips the target's stack-capacity check",
    // The optimising tier's register edges (edges.rs).
    EntryRegisters "entry-passes-registers" Compile "optimising: a jump, branch or fall-through passes the target's top items in its convention registers",
    EntryLoadsPassed "entry-loads-passed" Compile "optimising: a block's memory entry loads the items it takes in registers",
    ParallelMoveCycle "parallel-move-cycle" Compile "optimising: a register edge's moves form a cycle, broken through scratch",
    SideExitRegisters "side-exit-passes-registers" Compile "optimising: a side exit (taken jz or jn) passes the target's items in registers",
    BranchFusedCompare "branch-fused-compare" Compile "optimising: sub then jz or jn compiled as one cmp and a conditional jump",
    BranchFusedRemainder "branch-fused-remainder" Compile "optimising: mod by a run-time divisor then jz compiled as a divisibility test and a conditional jump, the remainder never written",
    EntryChecksFloorFirst "entry-checks-floor-first" Compile "optimising: a register edge checks its target's floor before the transfer reads the target's items",
    CallReturnSummarised "call-return-summarised" Compile "optimising: a native call's return point entered like a jump, the callee's stack effect known",
    CallReturnFallsIntoBody "call-return-falls-into-body" Compile "optimising: a summarised call's return point laid out as the body after the call, its own entry out of line",
    SideExitFallsIntoBody "side-exit-falls-into-body" Compile "optimising: a side exit into the next block's register entry laid out before it, the block's own entry out of line",
    CallInlined "call-inlined" Compile "optimising: a call to a function whose first block ends in ret compiled into the caller's block with the callee's block and the return point's (inline.rs)",
    CallInlinedClone "call-inlined-branch-to-clone" Compile "optimising: a jz or jn inside an inlined callee goes to the clone of its target made for the trace",
    CallReturnFallsThrough "call-return-falls-through" Compile "optimising: a native call returns into the next block without a jump",
    RetrieveLowCell "retrieve-low-cell" Compile "optimising: retrieve of a constant address below LOW_CELLS: a load, no bound check",
    StoreLowCell "store-low-cell" Compile "optimising: store to a constant address below LOW_CELLS: no bound check, its written flag looked at unless known written",
    StoreKnownWritten "store-known-written" Compile "optimising: store to a constant address every way to it has stored to (written.rs): no written-flag test",
    RetrieveForwarded "retrieve-forwarded" Compile "optimising: retrieve of a constant address this block stored: the stored value, no load",
    EntryFoldsRefund "entry-folds-refund" Compile "optimising: a taken jz or jn charges its target's fuel less its own refund, in one sub",
    // The virtual stack (vstack.rs).
    Spill "spill" Compile "no free register: the deepest cached register is written to its slot",
    WindowBound "window-bound" Compile "the window passes MAX_WINDOW items: the deepest is written to memory",
    Evict "evict-for-idiv" Compile "rax or rdx holds an item when idiv needs it: moved to another register",
    MaterialiseImm32 "materialise-imm32" Compile "a constant put in a register with a 32-bit immediate",
    MaterialiseImm64 "materialise-imm64" Compile "a constant put in a register with a 64-bit immediate",
    WriteSlotImm32 "write-slot-imm32" Compile "a constant written to its stack slot with a 32-bit immediate",
    WriteSlotImm64 "write-slot-imm64" Compile "a constant written to its stack slot through the scratch register",
    // The heap (heap.rs).
    HeapNegativeConstant "heap-negative-constant-address" Compile "store or retrieve at a negative constant address: the stepper traps",
    HeapConstantAddress "heap-constant-address" Compile "store or retrieve at a constant 0 <= c < 2^28: a displacement",
    HeapLargeConstantAddress "heap-large-constant-address" Compile "store or retrieve at a constant of 2^28 or more: through a register",
    HeapRegisterAddress "heap-register-address" Compile "store or retrieve at an address known at run time",
    StoreValueRegister "store-value-register" Compile "store of a value in a register",
    StoreValueImm32 "store-value-imm32" Compile "store of a constant that fits 32 bits",
    StoreValueImm64 "store-value-imm64" Compile "store of a constant that needs 64 bits",
    // Control flow and output (flow.rs, host.rs).
    BranchConstantTaken "branch-constant-taken" Compile "jz or jn on a constant that jumps: the block ends there",
    BranchConstantNotTaken "branch-constant-not-taken" Compile "jz or jn on a constant that does not jump: nothing emitted",
    BranchEndsBlock "branch-ends-block" Compile "jz or jn last in its block: flush, then branch straight to the target",
    BranchSideExit "branch-side-exit" Compile "jz or jn in mid-block: a taken branch leaves through a side exit",
    BranchOnMemory "branch-condition-in-memory" Compile "the condition of jz or jn is read from its stack slot",
    Jmp "jmp" Compile "jmp to a defined label",
    CallNative "call-native" Compile "call to a defined label: a native call with checks",
    CallIndexWide "call-return-index-imm64" Compile "a call whose return index needs 64 bits",
    Ret "ret" Compile "ret: a native return or one through the return table",
    End "end" Compile "end",
    PrintC "printc" Compile "printc: a host call",
    PrintI "printi" Compile "printi: a host call",
    HostArgumentMemory "host-argument-in-memory" Compile "a host call's argument is read from its stack slot",
    HostArgumentImm64 "host-argument-imm64" Compile "a host call's argument is a constant that needs 64 bits",
    CompiledStepperOnly "compiled-stepper-only" Compile "a stepper-only instruction reached the code generator: it exits to the stepper",
    // Exits from compiled code (exits.rs, and the driver for the entry checks).
    ExitEnded "exit-ended" Run "compiled code ran end",
    ExitHostFailed "exit-host-failed" Run "a host call reported failure straight out of compiled code",
    ExitHostError "exit-host-error" Run "a host call failed and left as a bail, before its instruction",
    ExitEntryFuel "exit-entry-fuel" Run "a chained block's entry check failed: not enough fuel in the slice",
    ExitEntryNeeds "exit-entry-needs" Run "a chained block's entry check failed: it needs items below floor",
    ExitEntryGrowth "exit-entry-growth" Run "a chained block's entry check failed: its growth passes cap",
    ExitStepperBlock "exit-to-stepper-block" Run "control reached an instruction no native block starts at",
    ExitConstantOverflow "exit-constant-overflow" Run "left before an operation of constants whose result needs big integers",
    ExitConstantDivisionByZero "exit-constant-division-by-zero" Run "left before a div or mod by the constant 0",
    ExitNegativeConstantAddress "exit-negative-constant-address" Run "left before a store or retrieve at a negative constant",
    ExitStepperOnly "exit-stepper-only" Run "left before a stepper-only instruction that reached the code generator",
    ExitAddOverflow "exit-add-overflow" Run "add overflowed 64 bits: hand-over to the stepper",
    ExitSubOverflow "exit-sub-overflow" Run "sub overflowed 64 bits: hand-over to the stepper",
    ExitFusedCompareOverflow "exit-fused-compare-overflow" Run "the compare of a fused sub and jz or jn overflowed 64 bits: the stepper runs the sub",
    ExitMulOverflow "exit-mul-overflow" Run "mul overflowed 64 bits: hand-over to the stepper",
    ExitDivByMinusOneOverflow "exit-div-by-minus-one-overflow" Run "i64::MIN div the constant -1: hand-over to the stepper",
    ExitDivisionByZero "exit-division-by-zero" Run "div or mod by a run-time 0: the stepper traps",
    ExitDivOverflow "exit-div-overflow" Run "i64::MIN div a run-time -1: hand-over to the stepper",
    ExitDynamicCopy "exit-dynamic-copy" Run "a far copy whose item is not above floor (underflow or a big value)",
    ExitDynamicSlide "exit-dynamic-slide" Run "a far slide that would remove big values below floor",
    ExitStoreHeapFull "exit-store-heap-full" Run "the first write of a dense cell with the heap at its limit",
    ExitStoreHost "exit-store-host-bail" Run "store's host call handed the instruction to the stepper",
    ExitRetrieveHost "exit-retrieve-host-bail" Run "retrieve's host call handed the instruction to the stepper",
    ExitPrintHost "exit-print-host-bail" Run "printc's or printi's host call handed the instruction to the stepper",
    ExitCallStackFull "exit-call-stack-full" Run "a native call with the call stack at its limit or buffer end",
    ExitCallMachineStack "exit-call-machine-stack" Run "a native call with the machine-stack budget used up",
    ExitRetEmpty "exit-ret-empty-call-stack" Run "ret with an empty call stack: the stepper traps",
    // The driver and the stepper (mod.rs, step.rs).
    EnterNative "enter-native" Run "the driver enters a native block",
    StepStepperOnly "step-stepper-only-block" Run "the driver steps: no native block starts here",
    StepNarrowValues "step-narrow-values" Run "the driver steps: the value limit is below 64 bits",
    StepFuel "step-fuel-short" Run "the driver steps: less fuel than the block's length",
    StepNeeds "step-needs-below-floor" Run "the driver steps: the block needs items below floor",
    StepGrowth "step-growth-over-limit" Run "the driver steps: the block's growth passes the stack limit",
    GrowStack "grow-value-stack" Run "the value-stack buffer grows before a block is entered",
    Handover "handover-to-big-integers" Run "a stepped run went over to big integers",
    DriverSliceRefill "refill-fuel-slice" Run "the driver refills the fuel slice",
    DriverLowCells "low-cells-go-over" Run "the run has reached the point where the driver compiles the program with the low cells unchecked and goes on in that code",
    DriverBackToChecked "low-cells-back-to-checked" Run "a cell below LOW_CELLS has held a big value: the driver goes on in code with every heap access checked (compiling it if the run started in the unchecked code)",
    StepperSliceRefill "stepper-refill-fuel-slice" Run "the stepper ran out of a fuel slice and refills it",
    StopRequested "stop-requested" Run "the run stops at a stop request (a signal or a timeout)",
    // Host calls and the heap (runtime.rs).
    HostRetrieve "host-retrieve" Run "retrieve outside the native dense cells served by the host",
    HostRetrieveNegative "host-retrieve-negative" Run "retrieve at a negative address: the host bails",
    HostRetrieveBig "host-retrieve-big" Run "retrieve of a big value: the host bails",
    HostStore "host-store" Run "store outside the native dense cells served by the host",
    HostStoreNegative "host-store-negative" Run "store at a negative address: the host bails",
    HostStoreHeapFull "host-store-heap-full" Run "store of a new cell with the heap at its limit: the host bails",
    HostPrintC "host-printc" Run "printc written by the host",
    HostPrintCInvalid "host-printc-invalid" Run "printc of a value that is no character: the host bails",
    HostPrintI "host-printi" Run "printi written by the host",
    HostCallError "host-call-error" Run "a host call's body returned an error (output failed)",
    HostCallPanic "host-call-panic" Run "a host call's body panicked (caught)",
    HeapGrow "heap-grow-dense" Run "the dense heap grows to cover an address",
    HeapSparse "heap-write-sparse" Run "a write beyond the dense heap stays sparse",
    HeapSparseMoved "heap-sparse-moved-dense" Run "the dense heap grew over sparse cells, which move in",
    HeapSparseMovedAbove "heap-sparse-moved-above-address" Run "the dense heap grew past the address that made it grow, over a sparse cell above that address, which moves in",
    HeapDenseBig "heap-big-value-in-dense" Run "a big value written to a dense cell (the native limit drops)",
    HeapLowCellBig "heap-low-cell-big" Run "a big value written to a dense cell below LOW_CELLS for the first time in the run (code that reads those cells unchecked must not run any more)",
    HeapDenseBigReplaced "heap-big-value-replaced" Run "a small value overwrites a dense cell's big value (the native limit may rise)",
    HeapHugeAddress "heap-huge-address" Run "a write at an address beyond 64 bits",
    // The stepper's in-place paths on big values (step.rs `fast_big`).
    StepperSwapBig "stepper-swap-big" Run "the stepper swaps two items of which one or both are big, in place",
    StepperCopySmallBelowBig "stepper-copy-small-below-big" Run "the stepper copies a 64-bit item from below a big one",
    StepperArithBigSmall "stepper-arith-big-small" Run "the stepper adds, subtracts or multiplies a big value by a 64-bit one in place",
    StepperDivBigBySmall "stepper-div-big-by-small" Run "the stepper divides a big value by a 64-bit one in place (floored)",
    StepperModBigBySmall "stepper-mod-big-by-small" Run "the stepper takes a big value mod a 64-bit one in one pass (floored)",
}

/// The number of decisions.
pub const COUNT: usize = Decision::ALL.len();

impl Decision {
    /// The decision of this name.
    pub fn from_name(name: &str) -> Option<Decision> {
        Decision::ALL.iter().copied().find(|d| d.name() == name)
    }

    /// `yes` when `cond`, else `no`: for one-line hooks.
    #[inline]
    pub(crate) fn pick(cond: bool, yes: Decision, no: Decision) -> Decision {
        if cond { yes } else { no }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

thread_local! {
    static TALLY: [Cell<u64>; COUNT] = const { [const { Cell::new(0) }; COUNT] };
}

/// Counts `decision` on this thread when `cond` holds.
#[inline]
pub(crate) fn hit_if(cond: bool, decision: Decision) {
    if cond {
        hit(decision);
    }
}

/// Counts one `decision` on this thread.
#[inline]
pub(crate) fn hit(decision: Decision) {
    TALLY.with(|t| {
        let c = &t[decision as usize];
        c.set(c.get() + 1);
    });
}

/// This thread's counts since the last `take`, leaving them at zero.
pub fn take() -> Counts {
    TALLY.with(|t| {
        let mut counts = Counts::default();
        for (i, c) in t.iter().enumerate() {
            counts.0[i] = c.replace(0);
        }
        counts
    })
}

/// How often each decision was reached.
#[derive(Clone, PartialEq, Eq)]
pub struct Counts([u64; COUNT]);

impl Default for Counts {
    fn default() -> Counts {
        Counts([0; COUNT])
    }
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(Decision::ALL.iter().map(|d| (d.name(), self.get(*d)))).finish()
    }
}

impl Counts {
    /// How often `decision` was reached.
    pub fn get(&self, decision: Decision) -> u64 {
        self.0[decision as usize]
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }

    /// Whether nothing was counted (no JIT ran).
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&c| c == 0)
    }

    /// The decisions never reached, in report order.
    pub fn unreached(&self) -> Vec<Decision> {
        Decision::ALL.iter().copied().filter(|&d| self.get(d) == 0).collect()
    }

    /// The report of `--coverage`: every decision with its kind and count, one per line
    /// (`KIND NAME COUNT`), in the order of [`Decision::ALL`]. [`Counts::parse`] reads it
    /// back, so a child process can hand its counts to its parent as text.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let width = Decision::ALL.iter().map(|d| d.name().len()).max().unwrap_or(0);
        for &d in Decision::ALL {
            let _ =
                writeln!(out, "{:<7} {:<width$} {:>12}", d.kind().name(), d.name(), self.get(d));
        }
        out
    }

    /// Reads counts from lines of [`Counts::report`] (or `NAME COUNT`); blank lines are
    /// skipped and a name given twice adds up. `Err` names the first line it cannot read.
    pub fn parse(text: &str) -> Result<Counts, String> {
        let mut counts = Counts::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (name, count) = match words.as_slice() {
                [_, name, count] | [name, count] => (*name, *count),
                _ => return Err(format!("not a coverage line: {line:?}")),
            };
            let d = Decision::from_name(name)
                .ok_or_else(|| format!("no JIT decision is called {name:?}"))?;
            let n: u64 = count.parse().map_err(|_| format!("not a count: {line:?}"))?;
            counts.0[d as usize] += n;
        }
        Ok(counts)
    }
}

/// The stepper-only block an instruction makes (block analysis).
#[cfg(target_arch = "x86_64")]
pub(crate) fn stepper_only(op: super::blocks::Op) -> Decision {
    use super::blocks::Op;
    match op {
        Op::PushBig => Decision::StepperPushBig,
        Op::ReadC | Op::ReadI => Decision::StepperRead,
        Op::Copy(_) => Decision::StepperCopyFar,
        _ => Decision::StepperUndefinedLabel,
    }
}

/// How an operand is encoded, for the arithmetic decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    Register,
    Memory,
    Imm32,
    Imm64,
}

/// The decision of `add`, `sub` or `mul` with its right operand in `form`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn arith(op: super::blocks::Op, form: Form) -> Decision {
    use super::blocks::Op;
    use Decision as D;
    match (op, form) {
        (Op::Add, Form::Register) => D::AddRegister,
        (Op::Add, Form::Memory) => D::AddMemory,
        (Op::Add, Form::Imm32) => D::AddImm32,
        (Op::Add, Form::Imm64) => D::AddImm64,
        (Op::Sub, Form::Register) => D::SubRegister,
        (Op::Sub, Form::Memory) => D::SubMemory,
        (Op::Sub, Form::Imm32) => D::SubImm32,
        (Op::Sub, Form::Imm64) => D::SubImm64,
        (_, Form::Register) => D::MulRegister,
        (_, Form::Memory) => D::MulMemory,
        (_, Form::Imm32) => D::MulImm32,
        (_, Form::Imm64) => D::MulImm64,
    }
}

/// The overflow exit of `add`, `sub` or `mul`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn overflow(op: super::blocks::Op) -> Decision {
    use super::blocks::Op;
    match op {
        Op::Add => Decision::ExitAddOverflow,
        Op::Sub => Decision::ExitSubOverflow,
        _ => Decision::ExitMulOverflow,
    }
}

/// The decision of the idiv dividend in `form`.
pub(crate) fn dividend(form: Form) -> Decision {
    match form {
        Form::Register => Decision::DividendInRegister,
        Form::Memory => Decision::DividendInMemory,
        Form::Imm32 | Form::Imm64 => Decision::DividendConstant,
    }
}

/// The decision for a failed entry check: taken by the driver before entering (`exit` false)
/// or by compiled code's own check (`exit` true).
#[cfg(target_arch = "x86_64")]
pub(super) fn short_of(short: super::driver::Shortfall, exit: bool) -> Decision {
    use super::driver::Shortfall;
    match short {
        Shortfall::Fuel => Decision::pick(exit, Decision::ExitEntryFuel, Decision::StepFuel),
        Shortfall::Needs => Decision::pick(exit, Decision::ExitEntryNeeds, Decision::StepNeeds),
        Shortfall::Growth => Decision::pick(exit, Decision::ExitEntryGrowth, Decision::StepGrowth),
    }
}

/// Why the entry check of the block compiled code just left failed (after
/// `Code::apply_exit`, which put the state back as it was before the check).
#[cfg(target_arch = "x86_64")]
pub(super) fn entry_exit(code: &super::compile::Code, rt: &super::runtime::Runtime) -> Decision {
    // The stub names its block's start, where a native block always starts.
    let short = code.native_block(rt.pc).and_then(|block| super::driver::shortfall(block, rt));
    short.map_or(Decision::ExitEntryGrowth, |short| short_of(short, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names, pinned: tools and tests refer to decisions by them, so a rename or removal
    /// must be deliberate (change this list and say why).
    const NAMES: &str = "
        block-cut-at-max-reach block-cut-at-max-block-len stepper-only-push-big stepper-only-read
        stepper-only-copy stepper-only-undefined-label block-checks-needs block-checks-growth
        block-falls-into-next block-jumps-to-next exit-label-to-stepper copy-static
        copy-source-in-memory copy-source-cached copy-dynamic-pushed-by-block copy-dynamic-checked
        swap drop slide-static slide-zero slide-negative slide-dynamic-count slide-dynamic-huge
        arith-fold arith-fold-overflow arith-in-place divide-in-place add-constant-left-commuted mul-constant-left-commuted
        sub-constant-minuend arith-left-in-memory add-register add-memory add-imm32 add-imm64
        sub-register sub-memory sub-imm32 sub-imm64 mul-register mul-memory mul-imm32 mul-imm64
        divide-by-constant-zero divide-fold div-fold-min-by-minus-one mod-fold-by-minus-one
        div-by-one mod-by-one mod-by-minus-one div-by-minus-one div-by-power-of-two
        mod-by-power-of-two-imm32 mod-by-power-of-two-imm64 div-known-divisor mod-known-divisor
        div-dynamic-divisor mod-dynamic-divisor divisor-in-register divisor-loaded
        divisor-materialised dividend-in-register dividend-in-memory dividend-constant
        divide-short-form divide-by-multiplying entry-checked entry-skips-floor-check
        entry-skips-capacity-check entry-passes-registers entry-loads-passed
        parallel-move-cycle side-exit-passes-registers branch-fused-compare branch-fused-remainder entry-checks-floor-first call-return-summarised call-return-falls-into-body side-exit-falls-into-body call-inlined call-inlined-branch-to-clone call-return-falls-through retrieve-low-cell store-low-cell store-known-written retrieve-forwarded entry-folds-refund spill
        window-bound evict-for-idiv materialise-imm32 materialise-imm64 write-slot-imm32
        write-slot-imm64 heap-negative-constant-address heap-constant-address
        heap-large-constant-address heap-register-address store-value-register store-value-imm32
        store-value-imm64 branch-constant-taken branch-constant-not-taken branch-ends-block
        branch-side-exit branch-condition-in-memory jmp call-native call-return-index-imm64 ret
        end printc printi host-argument-in-memory host-argument-imm64 compiled-stepper-only exit-ended exit-host-failed exit-host-error
        exit-entry-fuel exit-entry-needs exit-entry-growth exit-to-stepper-block
        exit-constant-overflow exit-constant-division-by-zero exit-negative-constant-address
        exit-stepper-only exit-add-overflow exit-sub-overflow exit-fused-compare-overflow
        exit-mul-overflow
        exit-div-by-minus-one-overflow exit-division-by-zero exit-div-overflow exit-dynamic-copy
        exit-dynamic-slide exit-store-heap-full exit-store-host-bail exit-retrieve-host-bail
        exit-print-host-bail exit-call-stack-full exit-call-machine-stack
        exit-ret-empty-call-stack enter-native step-stepper-only-block step-narrow-values
        step-fuel-short step-needs-below-floor step-growth-over-limit grow-value-stack
        handover-to-big-integers refill-fuel-slice low-cells-go-over low-cells-back-to-checked stepper-refill-fuel-slice stop-requested
        host-retrieve
        host-retrieve-negative host-retrieve-big host-store host-store-negative
        host-store-heap-full host-printc host-printc-invalid host-printi host-call-error
        host-call-panic heap-grow-dense heap-write-sparse heap-sparse-moved-dense
        heap-sparse-moved-above-address
        heap-big-value-in-dense heap-low-cell-big heap-big-value-replaced heap-huge-address
        stepper-swap-big stepper-copy-small-below-big stepper-arith-big-small
        stepper-div-big-by-small stepper-mod-big-by-small";

    #[test]
    fn names_are_unique_kebab_case_and_pinned() {
        let names: Vec<&str> = Decision::ALL.iter().map(|d| d.name()).collect();
        let pinned: Vec<&str> = NAMES.split_whitespace().collect();
        assert_eq!(names, pinned, "a decision was renamed, added or removed");
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "decision names are unique");
        for (i, d) in Decision::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i, "ALL is in declaration order");
            assert_eq!(Decision::from_name(d.name()), Some(*d));
            let name = d.name();
            assert!(
                name.split('-').all(|w| !w.is_empty()
                    && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
                "{name} is not kebab-case"
            );
            assert!(!d.about().is_empty());
        }
    }

    #[test]
    fn counts_are_per_thread_drained_and_read_back() {
        let _ = take();
        hit(Decision::Spill);
        hit(Decision::Spill);
        hit(Decision::ExitEnded);
        std::thread::spawn(|| hit(Decision::Spill)).join().unwrap();
        let counts = take();
        assert_eq!(counts.get(Decision::Spill), 2, "another thread's count stays there");
        assert_eq!(counts.get(Decision::ExitEnded), 1);
        assert!(take().is_empty(), "take drains");
        assert_eq!(counts.unreached().len(), COUNT - 2);
        let text = counts.report();
        assert_eq!(text.lines().count(), COUNT);
        assert_eq!(Counts::parse(&text), Ok(counts.clone()));
        assert_eq!(Counts::parse("spill 3\nspill 4\n").unwrap().get(Decision::Spill), 7);
        assert!(Counts::parse("no-such-thing 1").unwrap_err().contains("no-such-thing"));
        assert!(Counts::parse("spill many").is_err());
    }
}
