//! The reference machine's state and its single step.
//!
//! Invariant: [`Machine::step`] decides whether an instruction traps *before* it changes
//! anything, so a trapping instruction leaves stack, heap, call stack, input position and
//! instruction count exactly as they were (SEMANTICS.md §3). Checks run in a fixed order:
//! missing-end, fuel, stack depth, the values (zero divisor, negative address, undefined label,
//! invalid character, value too large), then the limits (stack, call stack, heap, big-value
//! memory), then input. (A read that traps on its input, `end-of-input` or `invalid-input`,
//! still notes its read in the transcript, [`Machine::reads`]: it did ask the input.)
//!
//! This machine is the reference and nothing else: the JIT steps instructions with its own
//! stepper (`src/jit/step.rs`) on its own state, never through this one. The duplication is
//! deliberate: the harness can only see a bug that the two engines do not share, and a step
//! function used by both would make its bugs invisible (both engines would agree on them).
//!
//! The words of big values held are kept as a running count ([`Machine::big_words`]), changed
//! only by `push`, `pop` and `heap_write`; [`Machine::count_big_words`] recounts them from
//! scratch, and debug builds check that the two agree when a run finishes.

use std::collections::{BTreeMap, HashMap};

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError, ReadPoint, Termination, Trap, TrapKind};
use crate::program::{Instruction, Program};
use crate::stop::Stop;

/// The complete state of a run in the reference machine.
///
/// Fields are public so that the differential harness can step it and read its state (the
/// fuzzer's coverage, the divergence's trace) and tests can build a machine by hand. No other
/// engine runs on it: the JIT keeps its own state (`src/jit/runtime.rs`).
#[derive(Clone, Debug)]
pub struct Machine<'p> {
    /// The program being run.
    pub program: &'p Program,
    /// The limits in force.
    pub limits: Limits,
    /// Index of the next instruction.
    pub pc: usize,
    /// The value stack, bottom first.
    pub stack: Vec<BigInt>,
    /// Every heap cell ever written.
    pub heap: HashMap<BigInt, BigInt>,
    /// Return positions, most recent last.
    pub calls: Vec<usize>,
    /// Instructions executed so far.
    pub executed: u64,
    /// Words of big values held: the sum of `words` over every stack item, heap address and
    /// heap value (SEMANTICS.md §3, `memory-overflow`).
    pub big_words: u64,
    /// The transcript so far: every read that asked the input (SEMANTICS.md §4).
    pub reads: Vec<ReadPoint>,
    /// Whether to note the reads in `reads` (true unless the caller does not want the
    /// transcript: a run on a stream that may read without end would keep a note per read).
    pub record_reads: bool,
}

/// The words a value counts toward the `big-words` limit: none inside the `i64` range,
/// `ceil(bits / 64)` of its magnitude outside it.
pub fn words(v: &BigInt) -> u64 {
    if v.to_i64().is_some() { 0 } else { crate::limits::big_words(v.bits()) }
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The instruction ran; the machine can go on.
    Continue,
    /// The run stopped.
    Stop(Termination),
}

impl<'p> Machine<'p> {
    /// A machine at the start of `program`.
    pub fn new(program: &'p Program, limits: Limits) -> Machine<'p> {
        Machine {
            program,
            limits,
            pc: 0,
            stack: Vec::new(),
            heap: HashMap::new(),
            calls: Vec::new(),
            executed: 0,
            big_words: 0,
            reads: Vec::new(),
            record_reads: true,
        }
    }

    /// Runs until the program ends or traps, or `stop` is requested (looked at every
    /// [`Stop::CHECK_EVERY`] steps and before the first). The output is flushed whatever
    /// happens; a host error names the instruction it happened at.
    pub fn run(
        &mut self,
        stop: &Stop,
        input: &mut Input,
        output: &mut Output,
    ) -> Result<Termination, HostError> {
        let result = self.run_steps(stop, input, output);
        // The final flush belongs to no one instruction.
        let flushed = output.flush();
        let termination = result?;
        flushed?;
        Ok(termination)
    }

    fn run_steps(
        &mut self,
        stop: &Stop,
        input: &mut Input,
        output: &mut Output,
    ) -> Result<Termination, HostError> {
        loop {
            if let Some(cause) = stop.poll() {
                return Err(HostError::Stopped { index: self.pc, cause });
            }
            for _ in 0..Stop::CHECK_EVERY {
                // A failing step changes nothing, so `pc` is still its instruction.
                match self.step(input, output) {
                    Ok(Step::Continue) => {}
                    Ok(Step::Stop(t)) => return Ok(t),
                    Err(e) => return Err(e.at(self.pc)),
                }
            }
        }
    }

    /// The final state, once the run has stopped with `termination`.
    pub fn finish(self, termination: Termination) -> Finish {
        debug_assert_eq!(self.big_words, self.count_big_words(), "the running count of big words");
        Finish {
            termination,
            stack: self.stack,
            heap: self.heap.into_iter().collect::<BTreeMap<_, _>>(),
            executed: self.executed,
            reads: self.reads,
        }
    }

    /// The words of big values held, counted afresh (the running count must equal it).
    pub fn count_big_words(&self) -> u64 {
        let stack: u64 = self.stack.iter().map(words).sum();
        let heap: u64 = self.heap.iter().map(|(a, v)| words(a) + words(v)).sum();
        stack + heap
    }

    /// Whether the big values held still fit the limit once an instruction has removed values
    /// of `removed` words and added values of `added` words.
    fn fits_memory(&self, removed: u64, added: u64) -> bool {
        self.big_words - removed + added <= self.limits.big_words
    }

    fn push(&mut self, v: BigInt) {
        self.big_words += words(&v);
        self.stack.push(v);
    }

    fn pop(&mut self) -> BigInt {
        let v = self.stack.pop().expect("the depth was checked");
        self.big_words -= words(&v);
        v
    }

    /// The words that writing `value` at `addr` removes from the heap and adds to it: a new
    /// cell adds its address and value, an old one loses its old value and gains the new one.
    fn heap_write_words(&self, addr: &BigInt, value: &BigInt) -> (u64, u64) {
        match self.heap.get(addr) {
            None => (0, words(addr) + words(value)),
            Some(old) => (words(old), words(value)),
        }
    }

    /// Writes `value` at `addr`, which are no longer on the stack; `(removed, added)` is what
    /// [`Machine::heap_write_words`] gave for them before they were popped.
    fn heap_write(&mut self, addr: BigInt, value: BigInt, (removed, added): (u64, u64)) {
        self.big_words = self.big_words - removed + added;
        self.heap.insert(addr, value);
    }

    fn trap(&self, kind: TrapKind) -> Step {
        Step::Stop(Termination::Trapped(Trap::at(self.program, kind, self.pc)))
    }

    /// Runs one instruction.
    ///
    /// One arm per instruction, in the order of SEMANTICS.md §2, each with its checks in the
    /// order of §3 before its effect: this function is long (about 200 lines) on purpose, so
    /// that the whole rule for an instruction reads in one place, next to the others, the
    /// way the specification gives them.
    pub fn step(&mut self, input: &mut Input, output: &mut Output) -> Result<Step, HostError> {
        let Some(ins) = self.program.instructions().get(self.pc) else {
            return Ok(self.trap(TrapKind::MissingEnd));
        };
        if self.executed >= self.limits.fuel {
            return Ok(self.trap(TrapKind::OutOfFuel));
        }
        let depth = self.stack.len();
        // The stack needs are a fact of the language, from the instruction table (`copy n`
        // checks its own argument below).
        if depth < ins.opcode().needs() {
            return Ok(self.trap(TrapKind::StackUnderflow));
        }
        let mut next = self.pc + 1;
        // Every arm decides whether the instruction traps before it changes anything. The words
        // of big values it removes and adds (`removed`, `added`) are checked against the limit
        // by `fits_memory` before the change is made.
        match ins {
            Instruction::Push(n) => {
                if n.bits() > self.limits.value_bits {
                    return Ok(self.trap(TrapKind::ValueTooLarge));
                }
                if depth >= self.limits.stack {
                    return Ok(self.trap(TrapKind::StackOverflow));
                }
                if !self.fits_memory(0, words(n)) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                self.push(n.clone());
            }
            Instruction::Dup | Instruction::Copy(_) => {
                let n = match ins {
                    Instruction::Copy(n) => n.clone(),
                    _ => BigInt::zero(),
                };
                // The n-th item from the top exists only for 0 <= n < depth.
                let Some(from_top) = n.to_usize().filter(|&k| k < depth) else {
                    return Ok(self.trap(TrapKind::StackUnderflow));
                };
                if depth >= self.limits.stack {
                    return Ok(self.trap(TrapKind::StackOverflow));
                }
                let value = self.stack[depth - 1 - from_top].clone();
                if !self.fits_memory(0, words(&value)) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                self.push(value);
            }
            Instruction::Swap => self.stack.swap(depth - 1, depth - 2),
            Instruction::Drop => {
                self.pop();
            }
            Instruction::Slide(n) => {
                let below = depth - 1;
                let remove = if n.sign() == Sign::Minus {
                    0
                } else {
                    n.to_usize().map_or(below, |k| k.min(below))
                };
                let removed: u64 = self.stack.drain(below - remove..below).map(|v| words(&v)).sum();
                self.big_words -= removed;
            }
            Instruction::Add | Instruction::Sub | Instruction::Mul => {
                let b = &self.stack[depth - 1];
                let a = &self.stack[depth - 2];
                let (a_bits, b_bits) = (a.bits(), b.bits());
                // A product of nonzero values has at least a_bits + b_bits - 1 bits: refuse to
                // compute one that is certainly too large.
                let certainly_too_large = matches!(ins, Instruction::Mul)
                    && a_bits > 0
                    && b_bits > 0
                    && (a_bits + b_bits - 1) > self.limits.value_bits;
                if certainly_too_large {
                    return Ok(self.trap(TrapKind::ValueTooLarge));
                }
                let r = match ins {
                    Instruction::Add => a + b,
                    Instruction::Sub => a - b,
                    _ => a * b,
                };
                if r.bits() > self.limits.value_bits {
                    return Ok(self.trap(TrapKind::ValueTooLarge));
                }
                if !self.fits_memory(words(a) + words(b), words(&r)) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                self.pop();
                self.pop();
                self.push(r);
            }
            Instruction::Div | Instruction::Mod => {
                let b = &self.stack[depth - 1];
                if b.is_zero() {
                    return Ok(self.trap(TrapKind::DivisionByZero));
                }
                let a = &self.stack[depth - 2];
                let r = match ins {
                    Instruction::Div => a.div_floor(b),
                    _ => a.mod_floor(b),
                };
                if !self.fits_memory(words(a) + words(b), words(&r)) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                self.pop();
                self.pop();
                self.push(r);
            }
            Instruction::Store => {
                let addr = &self.stack[depth - 2];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                if !self.heap.contains_key(addr) && self.heap.len() >= self.limits.heap {
                    return Ok(self.trap(TrapKind::HeapOverflow));
                }
                let value = &self.stack[depth - 1];
                // Address and value leave the stack for the heap.
                let (removed, added) = self.heap_write_words(addr, value);
                if !self.fits_memory(words(addr) + words(value) + removed, added) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                let value = self.pop();
                let addr = self.pop();
                self.heap_write(addr, value, (removed, added));
            }
            Instruction::Retrieve => {
                let addr = &self.stack[depth - 1];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                let value = self.heap.get(addr).cloned().unwrap_or_default();
                if !self.fits_memory(words(addr), words(&value)) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                self.pop();
                self.push(value);
            }
            Instruction::Label(_) => {}
            Instruction::Call(_) | Instruction::Jmp(_) => {
                let Some(target) = self.program.target(self.pc) else {
                    return Ok(self.trap(TrapKind::UndefinedLabel));
                };
                if let Instruction::Call(_) = ins {
                    if self.calls.len() >= self.limits.calls {
                        return Ok(self.trap(TrapKind::CallStackOverflow));
                    }
                    self.calls.push(self.pc + 1);
                }
                next = target;
            }
            Instruction::Jz(_) | Instruction::Jn(_) => {
                let top = &self.stack[depth - 1];
                let taken = match ins {
                    Instruction::Jz(_) => top.is_zero(),
                    _ => top.sign() == Sign::Minus,
                };
                if taken {
                    let Some(target) = self.program.target(self.pc) else {
                        return Ok(self.trap(TrapKind::UndefinedLabel));
                    };
                    next = target;
                }
                self.pop();
            }
            Instruction::Ret => {
                let Some(back) = self.calls.pop() else {
                    return Ok(self.trap(TrapKind::ReturnWithoutCall));
                };
                next = back;
            }
            Instruction::End => {
                self.executed += 1;
                return Ok(Step::Stop(Termination::Ended));
            }
            Instruction::PrintC => {
                let c = self.stack[depth - 1].to_u32().and_then(char::from_u32);
                let Some(c) = c else {
                    return Ok(self.trap(TrapKind::InvalidCharacter));
                };
                output.write_char(c)?;
                self.pop();
            }
            Instruction::PrintI => {
                output.write_bigint(&self.stack[depth - 1])?;
                self.pop();
            }
            Instruction::ReadC | Instruction::ReadI => {
                let addr = &self.stack[depth - 1];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                if !self.heap.contains_key(addr) && self.heap.len() >= self.limits.heap {
                    return Ok(self.trap(TrapKind::HeapOverflow));
                }
                // Everything written is delivered before the program waits for input; the
                // transcript notes what the sink had when the read began.
                output.flush()?;
                let point = ReadPoint { consumed: input.consumed(), flushed: output.flushed() };
                let read = match ins {
                    Instruction::ReadC => input.read_char()?.map(BigInt::from),
                    _ => input.read_number(self.limits.value_bits)?,
                };
                if self.record_reads {
                    self.reads.push(point);
                }
                let value = match read {
                    Ok(v) => v,
                    Err(kind) => return Ok(self.trap(kind)),
                };
                // The address leaves the stack for the heap; the value read is new.
                let (removed, added) = self.heap_write_words(addr, &value);
                if !self.fits_memory(words(addr) + removed, added) {
                    return Ok(self.trap(TrapKind::MemoryOverflow));
                }
                let addr = self.pop();
                self.heap_write(addr, value, (removed, added));
            }
        }
        self.pc = next;
        self.executed += 1;
        Ok(Step::Continue)
    }
}
