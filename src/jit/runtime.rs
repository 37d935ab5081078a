//! The JIT's machine state, shared by compiled code, the host calls and the stepper.
//!
//! The value stack is a buffer of `i64` slots; a value that does not fit in 64 bits is kept
//! beside it in `bigs` (its slot holds 0). The heap is a dense `Vec<i64>` for small addresses
//! with a written flag per cell, maps for the other addresses, and a slab of the big values
//! that dense cells hold (such a cell's flag says so, and its slot holds the slab index). [`Shared`] is the part compiled code reads and writes, at fixed offsets.
//!
//! Invariants (safety model items 3 and 4 in the module docs):
//! - `bigs` is sorted by slot index, every index is below `depth`, and `Shared::floor` points
//!   just above the highest big slot: compiled code never touches a slot below `floor`, so it
//!   never sees a big value's placeholder.
//! - `Shared::heap_limit` is at most the dense length and at most the lowest dense address
//!   holding a big value: compiled code reads and writes only dense cells below it, or below
//!   [`LOW_CELLS`] (which every run's dense region covers) while no cell there has ever held
//!   a big value ([`Heap::low_big`]; the driver goes back to checked code when one has).
//!   `Shared::heap_prefix` is at most `heap_limit`, and every dense cell below it is written.
//! - Between runs of compiled code, `depth`, `cs_depth` and `fuel` are the truth; while it
//!   runs, the pointers in `Shared` are (see `Runtime::publish` and `Runtime::take_back`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use num_bigint::{BigInt, Sign};
use num_traits::ToPrimitive;

use super::coverage::{self, Decision};
use super::dense::Zeroed;
use crate::io::Output;
use crate::limits::Limits;
use crate::outcome::{HostError, ReadPoint};

/// What compiled code shares with the host, at fixed offsets (`#[repr(C)]`).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Address of the next free value-stack slot.
    pub sp: usize,
    /// Address of the next free call-stack slot.
    pub cs: usize,
    /// Instructions that may still execute.
    pub fuel: u64,
    /// Lowest value-stack slot address compiled code may touch.
    pub floor: usize,
    /// Address of the first value-stack slot.
    pub stack_base: usize,
    /// One past the highest value-stack slot address compiled code may write.
    pub cap: usize,
    /// Address of the first call-stack slot.
    pub cs_base: usize,
    /// One past the highest call-stack slot address compiled code may write.
    pub cs_cap: usize,
    /// Address of dense heap cell 0.
    pub heap_cells: usize,
    /// Dense cells below this address are native (no big value among them).
    pub heap_limit: u64,
    /// Address of the dense heap's written flags.
    pub heap_written: usize,
    /// Every dense cell below this index is written (and native): stores there need no
    /// check. At most `heap_limit`.
    pub heap_prefix: u64,
    /// Distinct heap cells written so far.
    pub heap_count: u64,
    /// The most distinct heap cells that may be written.
    pub heap_max: u64,
    /// The machine stack pointer compiled code was entered with.
    pub rsp_base: usize,
    /// Compiled code makes no native `call` below this machine stack address.
    pub rsp_floor: usize,
    /// Address of the return table: code address for each instruction index.
    pub table: usize,
    /// First argument of a host call.
    pub arg0: i64,
    /// Second argument of a host call.
    pub arg1: i64,
    /// Result of a host call.
    pub ret: i64,
    /// [`HostStatus`] of the last host call.
    pub status: u64,
    /// The exit descriptor compiled code left through.
    pub exit: u64,
    /// The cache registers when compiled code left through an exit descriptor, by number.
    pub regs: [i64; 16],
}

/// Byte offsets of [`Shared`] fields, for compiled code.
pub(crate) mod offsets {
    use super::Shared;
    use std::mem::offset_of;
    macro_rules! offsets {
        ($($name:ident = $field:ident),* $(,)?) => {
            $(pub(crate) const $name: i32 = offset_of!(Shared, $field) as i32;)*
        };
    }
    offsets! {
        SP = sp, CS = cs, FUEL = fuel, FLOOR = floor, STACK_BASE = stack_base, CAP = cap, CS_BASE = cs_base,
        CS_CAP = cs_cap, HEAP_CELLS = heap_cells, HEAP_LIMIT = heap_limit,
        HEAP_WRITTEN = heap_written, HEAP_PREFIX = heap_prefix, HEAP_COUNT = heap_count, HEAP_MAX = heap_max,
        RSP_BASE = rsp_base, RSP_FLOOR = rsp_floor, TABLE = table, ARG0 = arg0, ARG1 = arg1,
        RET = ret, STATUS = status, EXIT = exit, REGS = regs,
    }
}

/// What a host call reports to compiled code (in [`Shared::status`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostStatus {
    /// Done; compiled code goes on.
    Done = 0,
    /// Not done: the stepper must run this instruction (a trap, or a big value).
    Bail = 1,
    /// The host failed; `Runtime::host_error` says how.
    #[allow(dead_code)] // `host` reports failures as bails now; compiled code still handles it
    Failed = 2,
}

/// A value of any size; `Big` only when it does not fit in `i64`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    /// Fits in 64 bits.
    Small(i64),
    /// Does not.
    Big(BigInt),
}

impl Val {
    /// The value of `n`, small when it fits.
    pub fn from_big(n: BigInt) -> Val {
        match n.to_i64() {
            Some(v) => Val::Small(v),
            None => Val::Big(n),
        }
    }

    /// As a big integer.
    pub fn to_big(&self) -> BigInt {
        match self {
            Val::Small(v) => BigInt::from(*v),
            Val::Big(b) => b.clone(),
        }
    }

    /// As a big integer, taking its digits.
    pub fn into_big(self) -> BigInt {
        match self {
            Val::Small(v) => BigInt::from(v),
            Val::Big(b) => b,
        }
    }

    /// Borrowed.
    pub fn as_ref(&self) -> VRef<'_> {
        match self {
            Val::Small(v) => VRef::Small(*v),
            Val::Big(b) => VRef::Big(b),
        }
    }
}

/// A borrowed value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum VRef<'a> {
    /// Fits in 64 bits.
    Small(i64),
    /// Does not.
    Big(&'a BigInt),
}

impl VRef<'_> {
    /// Owned.
    #[inline]
    pub fn to_val(self) -> Val {
        match self {
            VRef::Small(v) => Val::Small(v),
            VRef::Big(b) => Val::Big(b.clone()),
        }
    }

    /// Whether the value is below zero.
    pub fn is_negative(self) -> bool {
        match self {
            VRef::Small(v) => v < 0,
            VRef::Big(b) => b.sign() == Sign::Minus,
        }
    }

    /// The bits of the value's magnitude (as `BigInt::bits`).
    pub fn bits(self) -> u64 {
        match self {
            VRef::Small(v) => u64::from(64 - v.unsigned_abs().leading_zeros()),
            VRef::Big(b) => b.bits(),
        }
    }

    /// The words it counts toward the `big-words` limit: `ceil(bits / 64)` when big, else 0.
    pub fn words(self) -> u64 {
        match self {
            VRef::Small(_) => 0,
            // A big value's magnitude has exactly ceil(bits / 64) digits of 64 bits.
            VRef::Big(b) => b.iter_u64_digits().len() as u64,
        }
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        matches!(self, VRef::Small(0))
    }
}

/// A heap address the heap can index: small non-negative, or big (non-negative).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Addr {
    Small(u64),
    Big(BigInt),
}

fn addr_of(a: VRef<'_>) -> Addr {
    match a {
        VRef::Small(v) => Addr::Small(v as u64),
        VRef::Big(b) => Addr::Big(b.clone()),
    }
}

/// The heap: dense cells for small addresses, maps for the rest.
#[derive(Debug, Default)]
pub(crate) struct Heap {
    /// Dense cells `0..cells.len()`; a cell holding a big value holds its slot in `slab`.
    cells: Zeroed<i64>,
    /// For each dense cell: [`UNWRITTEN`], [`WRITTEN`] (its value in `cells`) or [`WRITTEN_BIG`].
    /// Compiled code reads and writes flags only below the native limit, where no cell is big.
    written: Zeroed<u8>,
    /// The big values of dense cells, each in a slot of its own (found from its cell in one
    /// step, however many there are).
    slab: Vec<BigInt>,
    /// Slots of `slab` no cell holds (their values are zero: nothing is held there).
    free: Vec<usize>,
    /// The dense cells holding big values, for the lowest one (the native limit). Changes only
    /// when a cell starts or stops holding a big value.
    big_cells: BTreeSet<usize>,
    /// Written cells at `cells.len() <= addr <= i64::MAX`.
    sparse: HashMap<u64, Val>,
    /// Written cells at addresses above `i64::MAX`.
    huge: HashMap<BigInt, Val>,
    /// Words of the big addresses and values held (SEMANTICS.md §3, `memory-overflow`).
    words: u64,
    /// Whether a dense cell below [`LOW_CELLS`] has ever held a big value: from then on the
    /// code that reads and writes those cells without a bound check must not run.
    low_big: bool,
    /// The deliberate bug compiled in, for the one that lives in the heap's growth.
    pub planted: crate::jit::Planted,
}

/// A dense cell never written.
const UNWRITTEN: u8 = 0;
/// A dense cell written, holding a 64-bit value (compiled code writes this flag).
const WRITTEN: u8 = 1;
/// A dense cell written, holding a big value: its slot in `Heap::slab`.
const WRITTEN_BIG: u8 = 2;

/// The dense cells every run has from its start (`Heap::reserve_low`), so that the
/// optimising tier can read and write a constant address below this without comparing it
/// with the native limit, for as long as none of them has held a big value
/// ([`Heap::low_big`]).
pub(crate) const LOW_CELLS: usize = 1 << 10;

/// The dense heap grows to cover an address only while the address is within this many
/// cells per written cell (plus a constant), so sparse addresses cannot exhaust memory.
const DENSE_PER_WRITTEN: usize = 4;
const DENSE_SLACK: usize = 1 << 16;

impl Heap {
    /// The dense length native code may use: below the lowest dense cell holding a big value.
    pub fn native_limit(&self) -> u64 {
        let low_big = self.big_cells.first().copied().unwrap_or(usize::MAX);
        self.cells.len().min(low_big) as u64
    }

    /// Words of the big addresses and values the heap holds.
    pub fn words(&self) -> u64 {
        self.words
    }

    /// The words the heap would hold after writing a value of `value_words` at `addr`.
    pub fn words_after_set(&self, addr: VRef<'_>, value_words: u64) -> u64 {
        self.words_after(addr, self.is_written(addr), value_words)
    }

    /// [`Heap::words_after_set`], knowing whether the cell at `addr` was written.
    fn words_after(&self, addr: VRef<'_>, written: bool, value_words: u64) -> u64 {
        match addr {
            // Nothing big is held, so an old value counts nothing, nor does a 64-bit address.
            VRef::Small(_) if self.words == 0 => value_words,
            _ if written => self.words - self.value_words(addr) + value_words,
            _ => self.words + addr.words() + value_words,
        }
    }

    /// The words of the value at a non-negative address.
    fn value_words(&self, addr: VRef<'_>) -> u64 {
        let value = match addr_of(addr) {
            Addr::Small(a) if (a as usize) < self.cells.len() => {
                return self.dense_big(a as usize).map_or(0, |b| VRef::Big(b).words());
            }
            Addr::Small(a) => self.sparse.get(&a),
            Addr::Big(b) => self.huge.get(&b),
        };
        value.map_or(0, |v| v.as_ref().words())
    }

    /// The big value of dense cell `i`, if it holds one.
    #[inline]
    fn dense_big(&self, i: usize) -> Option<&BigInt> {
        (self.written[i] == WRITTEN_BIG).then(|| &self.slab[self.cells[i] as usize])
    }

    /// Grows the dense region to at least [`LOW_CELLS`] cells (none of them written).
    pub fn reserve_low(&mut self) {
        if self.cells.len() < LOW_CELLS {
            self.cells.grow_to(LOW_CELLS);
            self.written.grow_to(LOW_CELLS);
        }
    }

    /// Whether a dense cell below [`LOW_CELLS`] has ever held a big value (it may not hold
    /// one any more: once set, this stays set).
    pub fn low_big(&self) -> bool {
        self.low_big
    }

    /// Cells in the dense region.
    pub fn dense_len(&self) -> usize {
        self.cells.len()
    }

    /// Publishes the dense buffers and the native limit to compiled code.
    pub fn sync(&mut self, shared: &mut Shared) {
        shared.heap_cells = self.cells.as_mut_ptr() as usize;
        shared.heap_written = self.written.as_mut_ptr() as usize;
        let limit = self.native_limit();
        shared.heap_limit = limit;
        let mut prefix = shared.heap_prefix.min(limit);
        while prefix < limit && self.written[prefix as usize] != UNWRITTEN {
            prefix += 1;
        }
        shared.heap_prefix = prefix;
    }

    /// The value at a non-negative address (0 if never written).
    pub fn get(&self, addr: VRef<'_>) -> Val {
        match addr_of(addr) {
            Addr::Small(a) if (a as usize) < self.cells.len() && a <= usize::MAX as u64 => {
                let i = a as usize;
                match self.dense_big(i) {
                    Some(b) => Val::Big(b.clone()),
                    None => Val::Small(self.cells[i]),
                }
            }
            Addr::Small(a) => self.sparse.get(&a).cloned().unwrap_or(Val::Small(0)),
            Addr::Big(b) => self.huge.get(&b).cloned().unwrap_or(Val::Small(0)),
        }
    }

    /// Whether the cell at a non-negative address was ever written.
    pub fn is_written(&self, addr: VRef<'_>) -> bool {
        match addr_of(addr) {
            Addr::Small(a) if (a as usize) < self.cells.len() => {
                self.written[a as usize] != UNWRITTEN
            }
            Addr::Small(a) => self.sparse.contains_key(&a),
            Addr::Big(b) => self.huge.contains_key(&b),
        }
    }

    /// Writes `value` at a non-negative address, counting a newly written cell in `count`.
    /// The caller has checked the heap limit.
    pub fn set(&mut self, addr: VRef<'_>, value: Val, count: &mut u64) {
        let written = self.is_written(addr);
        self.words = self.words_after(addr, written, value.as_ref().words());
        if !written {
            *count += 1;
        }
        match addr_of(addr) {
            Addr::Small(a) => {
                if a as usize >= self.cells.len() {
                    self.maybe_grow(a, *count);
                }
                if (a as usize) < self.cells.len() {
                    self.set_dense(a as usize, value);
                } else {
                    coverage::hit(Decision::HeapSparse);
                    self.sparse.insert(a, value);
                }
            }
            Addr::Big(b) => {
                coverage::hit(Decision::HeapHugeAddress);
                self.huge.insert(b, value);
            }
        }
    }

    /// Writes dense cell `i` (the words are counted by the caller).
    fn set_dense(&mut self, i: usize, value: Val) {
        let was_big = self.written[i] == WRITTEN_BIG;
        match value {
            Val::Small(v) => {
                if was_big {
                    coverage::hit(Decision::HeapDenseBigReplaced);
                    let slot = self.cells[i] as usize;
                    self.slab[slot] = BigInt::ZERO;
                    self.free.push(slot);
                    self.big_cells.remove(&i);
                }
                self.cells[i] = v;
                self.written[i] = WRITTEN;
            }
            Val::Big(b) if was_big => {
                coverage::hit(Decision::HeapDenseBig);
                self.slab[self.cells[i] as usize] = b;
            }
            Val::Big(b) => {
                coverage::hit(Decision::HeapDenseBig);
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slab[slot] = b;
                        slot
                    }
                    None => {
                        self.slab.push(b);
                        self.slab.len() - 1
                    }
                };
                self.cells[i] = slot as i64;
                self.written[i] = WRITTEN_BIG;
                self.big_cells.insert(i);
                if i < LOW_CELLS && !self.low_big {
                    coverage::hit(Decision::HeapLowCellBig);
                    self.low_big = true;
                }
            }
        }
    }

    /// Grows the dense cells to cover `addr` if that address is proportionate to the cells
    /// written, moving sparse cells that the dense region now covers.
    ///
    /// The address must be below `DENSE_PER_WRITTEN * count + DENSE_SLACK`; the new length
    /// is then at least double the old one (at most twice that bound), so that a run of
    /// stores just past the dense edge grows it geometrically, copying each cell a bounded
    /// number of times, instead of by the slack each time (which copied the whole region
    /// every few thousand stores: quadratic).
    fn maybe_grow(&mut self, addr: u64, count: u64) {
        let len = self.cells.len();
        let bound = (count as usize).saturating_mul(DENSE_PER_WRITTEN).saturating_add(DENSE_SLACK);
        if addr as usize >= bound {
            return;
        }
        coverage::hit(Decision::HeapGrow);
        let geometric = len.saturating_mul(2).max(1024);
        let new_len = (addr as usize + 1).max(geometric.min(bound.saturating_mul(2)));
        // New cells are 0 and UNWRITTEN (0): the buffers grow zeroed (`dense.rs`).
        self.cells.grow_to(new_len);
        self.written.grow_to(new_len);
        if !self.sparse.is_empty() {
            let strand = super::mutated!(self.planted, GrowthStrandsSparse);
            let edge = if strand { addr as usize + 1 } else { new_len };
            let moved: Vec<u64> =
                self.sparse.keys().copied().filter(|&k| (k as usize) < edge).collect();
            for k in moved {
                coverage::hit(Decision::HeapSparseMoved);
                coverage::hit_if(k > addr, Decision::HeapSparseMovedAbove);
                let v = self.sparse.remove(&k).expect("key just listed");
                // The words are unchanged: the cell only moves.
                self.set_dense(k as usize, v);
            }
        }
    }

    /// Every written cell with its value.
    pub fn to_map(&self) -> BTreeMap<BigInt, BigInt> {
        // Dense cells come in order; building the map from one sorted run is much faster
        // than inserting a million cells one by one.
        let mut cells: Vec<(BigInt, BigInt)> = Vec::with_capacity(
            self.written.iter().filter(|&&w| w != UNWRITTEN).count()
                + self.sparse.len()
                + self.huge.len(),
        );
        for (i, &w) in self.written.iter().enumerate() {
            if w != UNWRITTEN {
                let v = match self.dense_big(i) {
                    Some(b) => b.clone(),
                    None => BigInt::from(self.cells[i]),
                };
                cells.push((BigInt::from(i), v));
            }
        }
        let mut rest: Vec<(BigInt, BigInt)> = self
            .sparse
            .iter()
            .map(|(k, v)| (BigInt::from(*k), v.to_big()))
            .chain(self.huge.iter().map(|(k, v)| (k.clone(), v.to_big())))
            .collect();
        rest.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        cells.extend(rest);
        cells.into_iter().collect()
    }
}

/// The whole state of a JIT run. `shared` comes first so that compiled code and host calls
/// can use one pointer for both (`#[repr(C)]`).
#[repr(C)]
pub(crate) struct Runtime {
    /// What compiled code reads and writes.
    pub shared: Shared,
    /// Value-stack slots (the buffer's length is its capacity).
    pub stack: Vec<i64>,
    /// Items on the value stack.
    pub depth: usize,
    /// Slots holding big values, by increasing index, with their values.
    pub bigs: Vec<(usize, BigInt)>,
    /// The index just above the highest big slot (0 when there is none), kept beside `bigs`
    /// so that reading it never waits on a store to `bigs`.
    pub floor: usize,
    /// Words of the big values in `bigs`.
    pub stack_words: u64,
    /// Whether every 64-bit value is within the value limit (`value_bits >= 64`), so that
    /// compiled code and the stepper's fast path, which make 64-bit values unchecked, may run.
    /// Below that, every instruction goes through the stepper's checks.
    pub native_values: bool,
    /// Call-stack slots: return instruction indices (the buffer's length is its capacity).
    pub calls: Vec<u64>,
    /// Items on the call stack.
    pub cs_depth: usize,
    /// The heap.
    pub heap: Heap,
    /// Index of the next instruction.
    pub pc: usize,
    /// The limits in force.
    pub limits: Limits,
    /// The output, type-erased, while compiled code runs (null otherwise).
    pub output: *mut (),
    /// How a host call failed.
    pub host_error: Option<HostError>,
    /// Times the run went over to big integers.
    pub handovers: u64,
    /// While the checked code runs and the unchecked code is still to take over: the fuel
    /// left (in `shared.fuel` and the reserve together) at which it does.
    pub low_cells_at: Option<u64>,
    /// Fuel held back from `shared.fuel`, which holds at most one slice at a time so that
    /// compiled code returns to the driver (to look at the stop request) at least once per
    /// slice. The fuel left is `shared.fuel + fuel_reserve`.
    pub fuel_reserve: u64,
    /// The size of a fuel slice (see [`Runtime::slice_fuel`]).
    pub slice: u64,
    /// The run's stop request, looked at whenever a slice of fuel runs out.
    pub stop: crate::stop::Stop,
    /// The transcript so far (every read that asked the input, SEMANTICS.md §4), or `None`
    /// when the run does not record it.
    pub reads: Option<Vec<ReadPoint>>,
    /// The deliberate bug compiled in, for the one that lives in the stepper's reads.
    pub planted: crate::jit::Planted,
}

const INITIAL_STACK: usize = 1 << 12;
const INITIAL_CALLS: usize = 1 << 10;

impl Runtime {
    /// A machine at the start of a program.
    pub fn new(limits: Limits) -> Runtime {
        let mut rt = Runtime {
            shared: Shared::default(),
            stack: vec![0; INITIAL_STACK],
            depth: 0,
            bigs: Vec::new(),
            floor: 0,
            stack_words: 0,
            native_values: limits.value_bits >= 64,
            calls: vec![0; INITIAL_CALLS],
            cs_depth: 0,
            heap: Heap::default(),
            pc: 0,
            limits,
            output: std::ptr::null_mut(),
            host_error: None,
            handovers: 0,
            low_cells_at: None,
            fuel_reserve: 0,
            slice: u64::MAX,
            stop: crate::stop::Stop::new(),
            reads: Some(Vec::new()),
            planted: Default::default(),
        };
        rt.shared.fuel = limits.fuel;
        rt.shared.heap_max = limits.heap as u64;
        rt.heap.reserve_low();
        rt
    }

    /// Words of big values held, on the stack and in the heap.
    pub fn big_words(&self) -> u64 {
        self.stack_words + self.heap.words()
    }

    /// Whether the run has reached the point where the unchecked code takes over.
    #[inline]
    pub fn low_cells_due(&self) -> bool {
        self.low_cells_at.is_some_and(|left| self.shared.fuel + self.fuel_reserve <= left)
    }

    /// Instructions executed so far.
    pub fn executed(&self) -> u64 {
        self.limits.fuel - self.shared.fuel - self.fuel_reserve
    }

    /// Moves fuel between the reserve and `shared.fuel` so that `shared.fuel` holds `slice`
    /// (or all that is left, if less).
    #[inline]
    pub fn slice_fuel(&mut self, slice: u64) {
        let left = self.shared.fuel + self.fuel_reserve;
        self.shared.fuel = left.min(slice);
        self.fuel_reserve = left - self.shared.fuel;
    }

    /// The index just above the highest big slot (0 when there is none).
    #[inline]
    pub fn floor_index(&self) -> usize {
        self.floor
    }

    /// Makes the stack buffer hold at least `slots` slots.
    pub fn reserve_stack(&mut self, slots: usize) {
        if slots > self.stack.len() {
            let new_len = slots.max(self.stack.len().saturating_mul(2));
            self.stack.resize(new_len, 0);
        }
    }

    /// Makes the call-stack buffer hold at least `slots` slots.
    pub fn reserve_calls(&mut self, slots: usize) {
        if slots > self.calls.len() {
            let new_len = slots.max(self.calls.len().saturating_mul(2));
            self.calls.resize(new_len, 0);
        }
    }

    /// Publishes the state to compiled code, which is about to run.
    pub fn publish(&mut self) {
        let base = self.stack.as_mut_ptr() as usize;
        self.shared.stack_base = base;
        self.shared.sp = base + 8 * self.depth;
        self.shared.floor = base + 8 * self.floor_index();
        self.shared.cap = base + 8 * self.stack.len().min(self.limits.stack);
        let cs_base = self.calls.as_mut_ptr() as usize;
        self.shared.cs_base = cs_base;
        self.shared.cs = cs_base + 8 * self.cs_depth;
        self.shared.cs_cap = cs_base + 8 * self.calls.len().min(self.limits.calls);
        self.heap.sync(&mut self.shared);
    }

    /// Takes the state back from compiled code, which has stopped.
    pub fn take_back(&mut self) {
        let base = self.stack.as_ptr() as usize;
        self.depth = (self.shared.sp - base) / 8;
        self.cs_depth = (self.shared.cs - self.shared.cs_base) / 8;
    }

    /// The final value stack, bottom first. The big values move out of `bigs` (which is left
    /// empty) rather than being copied, so a stack of big values is never held twice.
    pub fn take_stack_values(&mut self) -> Vec<BigInt> {
        let mut bigs = std::mem::take(&mut self.bigs).into_iter().peekable();
        self.stack_words = 0;
        self.floor = 0;
        let values = (0..self.depth)
            .map(|i| match bigs.next_if(|(j, _)| *j == i) {
                Some((_, b)) => b,
                None => BigInt::from(self.stack[i]),
            })
            .collect();
        self.depth = 0;
        values
    }

    /// Runs a host call's body, turning a panic into a failure (host calls never unwind).
    fn host(&mut self, body: impl FnOnce(&mut Runtime) -> Result<HostStatus, HostError>) {
        let status = match catch_unwind(AssertUnwindSafe(|| body(self))) {
            Ok(Ok(status)) => status,
            // A failure leaves compiled code as a bail does, before the instruction, so the
            // driver knows where it happened (it looks at `host_error` after every exit).
            Ok(Err(e)) => {
                coverage::hit(Decision::HostCallError);
                self.host_error = Some(e);
                HostStatus::Bail
            }
            Err(_) => {
                coverage::hit(Decision::HostCallPanic);
                self.host_error =
                    Some(HostError::Io(std::io::Error::other("the JIT's host call panicked")));
                HostStatus::Bail
            }
        };
        self.shared.status = status as u64;
    }

    /// The output, while compiled code runs.
    ///
    /// # Safety
    /// `self.output` must point to a live `Output` that nothing else uses meanwhile (the
    /// driver sets it for the duration of one run of compiled code: safety model item 5).
    unsafe fn output(&mut self) -> &mut Output<'_> {
        // SAFETY: the caller guarantees the pointer is live and unaliased (model item 5).
        unsafe { &mut *(self.output as *mut Output<'_>) }
    }
}

/// Host call: `retrieve` from an address compiled code does not handle (outside the native
/// dense range). `arg0` is the address; the value goes to `ret`.
///
/// # Safety
/// `rt` is the runtime compiled code was entered with (safety model item 5).
pub(crate) unsafe extern "sysv64" fn host_retrieve(rt: *mut Runtime) {
    // SAFETY: compiled code passes the runtime pointer it was entered with; the driver does
    // not touch the runtime while compiled code runs (model item 5).
    let rt = unsafe { &mut *rt };
    rt.host(|rt| {
        let addr = rt.shared.arg0;
        if addr < 0 {
            coverage::hit(Decision::HostRetrieveNegative);
            return Ok(HostStatus::Bail);
        }
        match rt.heap.get(VRef::Small(addr)) {
            Val::Small(v) => {
                coverage::hit(Decision::HostRetrieve);
                rt.shared.ret = v;
                Ok(HostStatus::Done)
            }
            Val::Big(_) => {
                coverage::hit(Decision::HostRetrieveBig);
                Ok(HostStatus::Bail)
            }
        }
    });
}

/// Host call: `store` at an address compiled code does not handle. `arg0` is the address,
/// `arg1` the value.
///
/// # Safety
/// `rt` is the runtime compiled code was entered with (safety model item 5).
pub(crate) unsafe extern "sysv64" fn host_store(rt: *mut Runtime) {
    // SAFETY: as for `host_retrieve` (model item 5).
    let rt = unsafe { &mut *rt };
    rt.host(|rt| {
        let (addr, value) = (rt.shared.arg0, rt.shared.arg1);
        if addr < 0 {
            coverage::hit(Decision::HostStoreNegative);
            return Ok(HostStatus::Bail);
        }
        let addr = VRef::Small(addr);
        if !rt.heap.is_written(addr) && rt.shared.heap_count >= rt.shared.heap_max {
            coverage::hit(Decision::HostStoreHeapFull);
            return Ok(HostStatus::Bail);
        }
        coverage::hit(Decision::HostStore);
        rt.heap.set(addr, Val::Small(value), &mut rt.shared.heap_count);
        rt.heap.sync(&mut rt.shared);
        Ok(HostStatus::Done)
    });
}

/// Host call: `printc` of `arg0`.
///
/// # Safety
/// `rt` is the runtime compiled code was entered with, with its output set (model item 5).
pub(crate) unsafe extern "sysv64" fn host_printc(rt: *mut Runtime) {
    // SAFETY: as for `host_retrieve` (model item 5).
    let rt = unsafe { &mut *rt };
    rt.host(|rt| {
        let Some(c) = u32::try_from(rt.shared.arg0).ok().and_then(char::from_u32) else {
            coverage::hit(Decision::HostPrintCInvalid);
            return Ok(HostStatus::Bail);
        };
        coverage::hit(Decision::HostPrintC);
        // SAFETY: the driver set the output for this run of compiled code (model item 5).
        unsafe { rt.output() }.write_char(c)?;
        Ok(HostStatus::Done)
    });
}

/// Host call: `printi` of `arg0`.
///
/// # Safety
/// `rt` is the runtime compiled code was entered with, with its output set (model item 5).
pub(crate) unsafe extern "sysv64" fn host_printi(rt: *mut Runtime) {
    // SAFETY: as for `host_retrieve` (model item 5).
    let rt = unsafe { &mut *rt };
    rt.host(|rt| {
        let v = rt.shared.arg0;
        coverage::hit(Decision::HostPrintI);
        // SAFETY: the driver set the output for this run of compiled code (model item 5).
        unsafe { rt.output() }.write_i64(v)?;
        Ok(HostStatus::Done)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_heap_grows_proportionately_and_sparse_cells_move_in() {
        let mut heap = Heap::default();
        let mut count = 0;
        heap.set(VRef::Small(5_000_000), Val::Small(7), &mut count);
        assert_eq!(heap.native_limit(), 0, "a far address stays sparse");
        heap.set(VRef::Small(3), Val::Small(1), &mut count);
        assert!(heap.native_limit() >= 4);
        assert_eq!(heap.get(VRef::Small(5_000_000)), Val::Small(7));
        assert_eq!(count, 2);
        heap.set(VRef::Small(3), Val::Small(2), &mut count);
        assert_eq!(count, 2);
        let big: BigInt = BigInt::from(1) << 100;
        heap.set(VRef::Small(2), Val::Big(big.clone()), &mut count);
        assert_eq!(heap.native_limit(), 2);
        assert_eq!(heap.get(VRef::Small(2)), Val::Big(big.clone()));
        heap.set(VRef::Big(&big), Val::Small(0), &mut count);
        assert!(heap.is_written(VRef::Big(&big)));
        let map = heap.to_map();
        assert_eq!(map.len(), 4);
        assert_eq!(map[&BigInt::from(3)], BigInt::from(2));
        assert_eq!(map[&big], BigInt::from(0));
    }

    #[test]
    fn stores_just_past_the_dense_edge_grow_it_geometrically() {
        // Stores at stride 4 keep the address at the edge of what the written cells allow:
        // each growth must at least double the region (a few dozen growths for 2^20 stores),
        // not add the slack each time (hundreds of full copies).
        let mut heap = Heap::default();
        let mut count = 0;
        let mut growths = 0;
        let mut len = heap.dense_len();
        for k in 0..(1u64 << 20) {
            heap.set(VRef::Small((4 * k) as i64), Val::Small(k as i64), &mut count);
            if heap.dense_len() != len {
                assert!(heap.dense_len() >= 2 * len, "grew from {len} to {}", heap.dense_len());
                len = heap.dense_len();
                growths += 1;
            }
        }
        assert!(growths <= 16, "{growths} growths");
        assert!(heap.sparse.len() < 1 << 17, "{} sparse cells", heap.sparse.len());
        // Never more than twice the proportionate bound.
        assert!(heap.dense_len() <= 2 * (4 * count as usize + DENSE_SLACK));
        assert_eq!(heap.get(VRef::Small(4 * 12345)), Val::Small(12345));
        assert_eq!(heap.get(VRef::Small(4 * 1_000_000)), Val::Small(1_000_000));
        assert_eq!(heap.get(VRef::Small(4 * 1_000_000 + 1)), Val::Small(0));
        assert_eq!(count, 1 << 20);
    }

    #[test]
    fn big_values_in_dense_cells_come_and_go() {
        let mut heap = Heap::default();
        let mut count = 0;
        let big = |k: u32| BigInt::from(1) << (64 + k);
        for i in 0..8 {
            heap.set(VRef::Small(i), Val::Small(i), &mut count);
        }
        heap.set(VRef::Small(5), Val::Big(big(1)), &mut count);
        heap.set(VRef::Small(3), Val::Big(big(2)), &mut count);
        assert_eq!(heap.native_limit(), 3);
        assert_eq!(heap.words(), 4);
        // Big over big: the same slot; small over big: the slot is freed and reused.
        heap.set(VRef::Small(3), Val::Big(big(70)), &mut count);
        assert_eq!(heap.words(), 5);
        heap.set(VRef::Small(3), Val::Small(-3), &mut count);
        assert_eq!(heap.native_limit(), 5);
        assert_eq!(heap.words(), 2);
        heap.set(VRef::Small(7), Val::Big(big(3)), &mut count);
        assert_eq!(heap.slab.len(), 2, "the freed slot is reused");
        assert_eq!(heap.get(VRef::Small(3)), Val::Small(-3));
        assert_eq!(heap.get(VRef::Small(5)), Val::Big(big(1)));
        assert_eq!(heap.get(VRef::Small(7)), Val::Big(big(3)));
        heap.set(VRef::Small(5), Val::Small(0), &mut count);
        heap.set(VRef::Small(7), Val::Small(0), &mut count);
        assert_eq!(heap.native_limit(), heap.dense_len() as u64);
        assert_eq!((heap.words(), count), (0, 8));
        // A big value written sparse moves into the slab when the dense region grows over it.
        heap.set(VRef::Small(100_000), Val::Big(big(4)), &mut count);
        assert_eq!(heap.sparse.len(), 1, "too far for 9 written cells");
        for i in 8..9000 {
            heap.set(VRef::Small(i), Val::Small(1), &mut count);
        }
        heap.set(VRef::Small(100_001), Val::Small(1), &mut count);
        assert!(heap.dense_len() > 100_001);
        assert!(heap.sparse.is_empty());
        assert_eq!(heap.native_limit(), 100_000);
        assert_eq!(heap.words(), 2);
        assert_eq!(heap.get(VRef::Small(100_000)), Val::Big(big(4)));
        assert_eq!(heap.to_map()[&BigInt::from(100_000)], big(4));
    }
}
