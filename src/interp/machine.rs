//! The reference machine's state and its single step.
//!
//! Invariant: [`Machine::step`] decides whether an instruction traps *before* it changes
//! anything, so a trapping instruction leaves stack, heap, call stack, input position and
//! instruction count exactly as they were (SEMANTICS.md §3). Checks run in a fixed order:
//! missing-end, fuel, stack depth, the values (zero divisor, negative address, undefined label,
//! invalid character), then the limits (stack, call stack, heap), then input.

use std::collections::{BTreeMap, HashMap};

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};

use crate::io::{Input, Output};
use crate::limits::Limits;
use crate::outcome::{Finish, HostError, Termination, Trap, TrapKind};
use crate::program::{Instruction, Program};
use crate::stop::Stop;

/// The complete state of a run in the reference machine.
///
/// Fields are public so that another engine can hand its state over (the JIT does, when a
/// value outgrows 64 bits) and take it back.
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
        Finish {
            termination,
            stack: self.stack,
            heap: self.heap.into_iter().collect::<BTreeMap<_, _>>(),
            executed: self.executed,
        }
    }

    fn trap(&self, kind: TrapKind) -> Step {
        Step::Stop(Termination::Trapped(Trap::at(self.program, kind, self.pc)))
    }

    /// Runs one instruction.
    pub fn step(&mut self, input: &mut Input, output: &mut Output) -> Result<Step, HostError> {
        let Some(ins) = self.program.instructions().get(self.pc) else {
            return Ok(self.trap(TrapKind::MissingEnd));
        };
        if self.executed >= self.limits.fuel {
            return Ok(self.trap(TrapKind::OutOfFuel));
        }
        let depth = self.stack.len();
        let needs = match ins {
            Instruction::Dup | Instruction::Drop | Instruction::Slide(_) => 1,
            Instruction::Swap => 2,
            Instruction::Add | Instruction::Sub | Instruction::Mul => 2,
            Instruction::Div | Instruction::Mod | Instruction::Store => 2,
            Instruction::Retrieve | Instruction::Jz(_) | Instruction::Jn(_) => 1,
            Instruction::PrintC | Instruction::PrintI => 1,
            Instruction::ReadC | Instruction::ReadI => 1,
            _ => 0,
        };
        if depth < needs {
            return Ok(self.trap(TrapKind::StackUnderflow));
        }
        let mut next = self.pc + 1;
        match ins {
            Instruction::Push(n) => {
                if depth >= self.limits.stack {
                    return Ok(self.trap(TrapKind::StackOverflow));
                }
                self.stack.push(n.clone());
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
                self.stack.push(self.stack[depth - 1 - from_top].clone());
            }
            Instruction::Swap => self.stack.swap(depth - 1, depth - 2),
            Instruction::Drop => {
                self.stack.pop();
            }
            Instruction::Slide(n) => {
                let below = depth - 1;
                let remove = if n.sign() == Sign::Minus {
                    0
                } else {
                    n.to_usize().map_or(below, |k| k.min(below))
                };
                self.stack.drain(below - remove..below);
            }
            Instruction::Add | Instruction::Sub | Instruction::Mul => {
                let b = &self.stack[depth - 1];
                let a = &self.stack[depth - 2];
                let r = match ins {
                    Instruction::Add => a + b,
                    Instruction::Sub => a - b,
                    _ => a * b,
                };
                self.stack.truncate(depth - 2);
                self.stack.push(r);
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
                self.stack.truncate(depth - 2);
                self.stack.push(r);
            }
            Instruction::Store => {
                let addr = &self.stack[depth - 2];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                if !self.heap.contains_key(addr) && self.heap.len() >= self.limits.heap {
                    return Ok(self.trap(TrapKind::HeapOverflow));
                }
                let value = self.stack.pop().expect("depth checked");
                let addr = self.stack.pop().expect("depth checked");
                self.heap.insert(addr, value);
            }
            Instruction::Retrieve => {
                let addr = &self.stack[depth - 1];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                let value = self.heap.get(addr).cloned().unwrap_or_default();
                self.stack[depth - 1] = value;
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
                self.stack.pop();
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
                self.stack.pop();
            }
            Instruction::PrintI => {
                output.write_bigint(&self.stack[depth - 1])?;
                self.stack.pop();
            }
            Instruction::ReadC | Instruction::ReadI => {
                let addr = &self.stack[depth - 1];
                if addr.sign() == Sign::Minus {
                    return Ok(self.trap(TrapKind::NegativeAddress));
                }
                if !self.heap.contains_key(addr) && self.heap.len() >= self.limits.heap {
                    return Ok(self.trap(TrapKind::HeapOverflow));
                }
                output.flush()?;
                let read = match ins {
                    Instruction::ReadC => input.read_char()?.map(BigInt::from),
                    _ => input.read_number()?,
                };
                let value = match read {
                    Ok(v) => v,
                    Err(kind) => return Ok(self.trap(kind)),
                };
                let addr = self.stack.pop().expect("depth checked");
                self.heap.insert(addr, value);
            }
        }
        self.pc = next;
        self.executed += 1;
        Ok(Step::Continue)
    }
}
