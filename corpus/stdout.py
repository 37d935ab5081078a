#!/usr/bin/env python3
"""Independent check of the corpus: the stdout of every program, computed here in Python from
the program's algorithm and its `.in` file, must be the `stdout:` recorded in its `.expect`.

The `.expect` files are blessed from the reference interpreter (see README.md); this script is
the check that the interpreter printed the right thing.  It knows nothing about Whitespace: each
function below restates what one program computes.  Run it after every bless:

    python3 corpus/stdout.py            # all programs
    python3 corpus/stdout.py sort rpn   # some of them

A program without a function here is reported, so a new program cannot be forgotten.
"""

import math
import sys
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"


def read_input(name):
    path = PROGRAMS / f"{name}.in"
    return path.read_bytes() if path.exists() else b""


def parse_readi(line):
    """A readi line in the grammar of SEMANTICS.md (the subset the corpus inputs use)."""
    text = line.decode().strip()
    parens = 0
    while text.startswith("("):
        parens += 1
        text = text[1:].strip()
    for _ in range(parens):
        assert text.endswith(")"), line
        text = text[:-1].strip()
    negative = text.startswith("-")
    if negative:
        text = text[1:].strip()
    if text[:2] in ("0x", "0X"):
        value = int(text[2:], 16)
    elif text[:2] in ("0o", "0O"):
        value = int(text[2:], 8)
    else:
        assert text.isdigit(), line
        value = int(text)
    return -value if negative else value


def readi_lines(name):
    """The numbers of the input's lines, up to and including the first 0."""
    numbers = []
    for line in read_input(name).split(b"\n"):
        numbers.append(parse_readi(line))
        if numbers[-1] == 0:
            break
    return numbers


def hello():
    return "Hello, world!\n"


def fact100():
    return f"100! = {math.factorial(100)}\n"


def fact1000():
    digits = str(math.factorial(1000))
    assert len(digits) == 2568
    return f"{digits}\n{len(digits)} digits, sum {sum(map(int, digits))}\n"


def is_prime(n):
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def primes():
    found = [p for p in range(2, 500) if is_prime(p)]
    return "".join(f"{p} " for p in found) + f"\n{len(found)} primes\n"


def sort():
    numbers = readi_lines("sort")[:-1]
    return f"{len(numbers)} sorted:\n" + "".join(f"{n}\n" for n in sorted(numbers))


def reverse():
    out = ""
    for line in read_input("reverse").decode().split("\n"):
        if line == "":
            break
        out += line[::-1] + "\n"
    return out


def every():
    text = read_input("every").decode()
    c, n = text[0], int(text[1:].strip())
    values = [n // 5, n % 5, n // -5, n % -5, abs(n), n * n, n + 5, n - 5]
    return f"{c}:\n" + "".join(f"{v} " for v in values) + "\n3 2 1 go\n"


def fib():
    def f(n):
        return n if n < 2 else f(n - 1) + f(n - 2)

    return "".join(f"{f(n)} " for n in range(21)) + "\n"


def prompt():
    lines = read_input("prompt").decode().split("\n")
    name, age = lines[0], int(lines[1].strip())
    return (
        f"What is your name? Hello, {name}! How old are you? "
        f"Next year you will be {age + 1}.\n"
    )


def average():
    # The input holds no number before its 0: the division by the count traps.
    assert readi_lines("average")[0] == 0
    return "sum 0\nn 0\nmean "


def forever():
    # 3 instructions set up the counter; each round of the loop is 13 instructions and prints
    # its count after its 11th.  Fuel 1000 (the .expect's limits line) stops the run.
    fuel, setup, round_length, printed_after = 1000, 3, 13, 11
    full, rest = divmod(fuel - setup, round_length)
    count = full + (1 if rest >= printed_after else 0)
    return "".join(f"{k} " for k in range(1, count + 1))


def gcd():
    numbers = readi_lines("gcd")
    out = ""
    while numbers[0] != 0:
        a, b = numbers[0], numbers[1]
        numbers = numbers[2:]
        g = math.gcd(a, b)
        out += f"gcd {g}, lcm {a * b // g}\n"
    return out


def collatz_steps(n):
    steps, peak = 0, n
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        peak = max(peak, n)
        steps += 1
    return steps, peak


def collatz():
    steps, peak = collatz_steps(27)
    best = max(range(1, 1000), key=lambda n: (collatz_steps(n)[0], -n))
    return f"27: {steps} steps, peak {peak}\n{best}: {collatz_steps(best)[0]} steps\n"


def pow2():
    a, b = 2**200, 3**100
    out = f"{a}\n{b}\n5\n"
    for x, y in [(a, b), (-a, b), (a, -b), (-a, -b)]:
        out += f"{x // y} {x % y}\n"  # Python's // and % are floored, as Whitespace's
    return out


def rot13():
    def rotate(c):
        for base in "Aa":
            if ord(base) <= ord(c) <= ord(base) + 25:
                return chr(ord(base) + (ord(c) - ord(base) + 13) % 26)
        return c

    return "".join(map(rotate, read_input("rot13").decode()))


def rpn():
    out = ""
    for line in read_input("rpn").decode().split("\n"):
        if line.startswith("q"):
            break
        stack = []
        for token in line.split():
            if token.isdigit():
                stack.append(int(token))
            elif token == "d":
                stack.append(stack[-1])
            elif token == "s":
                stack[-2], stack[-1] = stack[-1], stack[-2]
            else:
                b, a = stack.pop(), stack.pop()
                ops = {"+": a + b, "-": a - b, "*": a * b}
                stack.append(ops[token] if token in ops else a // b if token == "/" else a % b)
        out += f"{stack.pop()}\n"
    return out


def bf():
    data = read_input("bf")
    code, rest = data.split(b"!", 1)
    code, rest = code.decode(), list(rest.decode())
    tape, ptr, ip, out = {}, 0, 0, ""
    while ip < len(code):
        op = code[ip]
        if op == "+":
            tape[ptr] = tape.get(ptr, 0) + 1
        elif op == "-":
            tape[ptr] = tape.get(ptr, 0) - 1
        elif op == ">":
            ptr += 1
        elif op == "<":
            ptr -= 1
        elif op == ".":
            out += chr(tape.get(ptr, 0))
        elif op == ",":
            tape[ptr] = ord(rest.pop(0))
        elif op in "[]":
            taken = (tape.get(ptr, 0) == 0) == (op == "[")
            step, depth = (1, 0) if op == "[" else (-1, 0)
            while taken:
                depth += {"[": step, "]": -step}.get(code[ip], 0)
                if depth == 0:
                    break
                ip += step
        ip += 1
    return out


def decode_escaped(text):
    """A double-quoted string in the escape syntax of src/case.rs, as bytes."""
    assert text.startswith('"') and text.endswith('"'), text
    inner, out, i = text[1:-1], bytearray(), 0
    simple = {"n": b"\n", "t": b"\t", "r": b"\r", "0": b"\0", "\\": b"\\", '"': b'"'}
    while i < len(inner):
        c = inner[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif inner[i + 1] in simple:
            out += simple[inner[i + 1]]
            i += 2
        elif inner[i + 1] == "x":
            out.append(int(inner[i + 2 : i + 4], 16))
            i += 4
        else:
            assert inner[i + 1] == "u", text
            close = inner.index("}", i)
            out += chr(int(inner[i + 3 : close], 16)).encode()
            i = close + 1
    return bytes(out)


def recorded_stdout(name):
    for line in (PROGRAMS / f"{name}.expect").read_text().splitlines():
        if line.startswith("stdout:"):
            return decode_escaped(line[len("stdout:") :].strip())
    return b""


def main():
    names = sys.argv[1:] or sorted(p.stem for p in PROGRAMS.glob("*.ws"))
    failures = 0
    for name in names:
        compute = globals().get(name)
        if not callable(compute):
            print(f"{name}: no Python model in corpus/stdout.py")
            failures += 1
            continue
        if not (PROGRAMS / f"{name}.expect").exists():
            print(f"{name}: no .expect yet (bless it first)")
            failures += 1
            continue
        expected, recorded = compute().encode(), recorded_stdout(name)
        if expected == recorded:
            print(f"{name}: ok ({len(expected)} bytes)")
        else:
            failures += 1
            print(f"{name}: DIFFERS\n  python:   {expected[:300]!r}\n  recorded: {recorded[:300]!r}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
