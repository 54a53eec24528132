"""The error body: a push parser that finds the top-level errorMessage (or error) string of a
JSON object, validates the whole body as RFC 8259 JSON in one pass, and keeps a printable prefix
of a body that is not JSON. Bytes in, one at a time; the same answer however the body is split."""

import unicodedata

MAX_DEPTH = 127
KEY_CAP = 12
REPLACEMENT = "\ufffd"
LITERALS = [b"true", b"false", b"null"]
SIMPLE_ESCAPES = {0x22: '"', 0x5C: "\\", 0x2F: "/", 0x62: "\b", 0x66: "\f", 0x6E: "\n", 0x72: "\r", 0x74: "\t"}
JSON_WHITESPACE = (0x20, 0x09, 0x0A, 0x0D)
SKIPS_WHITESPACE = {"lead", "value", "value_or_close", "key_or_close", "key", "colon", "comma_or_close", "end"}


class Utf8:
    """A byte-at-a-time UTF-8 decoder; an ill-formed sequence is one U+FFFD and the byte that
    broke it is decoded again (Unicode's "maximal subpart" practice)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.code, self.need, self.lower, self.upper = 0, 0, 0x80, 0xBF

    def pending(self):
        return self.need != 0

    def _open(self, code, need, lower, upper):
        self.code, self.need, self.lower, self.upper = code, need, lower, upper
        return ("pending", None)

    def push(self, b):
        """('pending', None), ('char', c), or ('replace', None): emit U+FFFD, feed b again."""
        if self.need == 0:
            if b <= 0x7F:
                return ("char", chr(b))
            if 0xC2 <= b <= 0xDF:
                return self._open(b & 0x1F, 1, 0x80, 0xBF)
            if b == 0xE0:
                return self._open(0, 2, 0xA0, 0xBF)
            if 0xE1 <= b <= 0xEC or 0xEE <= b <= 0xEF:
                return self._open(b & 0x0F, 2, 0x80, 0xBF)
            if b == 0xED:
                return self._open(0x0D, 2, 0x80, 0x9F)
            if b == 0xF0:
                return self._open(0, 3, 0x90, 0xBF)
            if 0xF1 <= b <= 0xF3:
                return self._open(b & 0x07, 3, 0x80, 0xBF)
            if b == 0xF4:
                return self._open(0x04, 3, 0x80, 0x8F)
            return ("char", REPLACEMENT)
        if b < self.lower or b > self.upper:
            self.reset()
            return ("replace", None)
        self.code = (self.code << 6) | (b & 0x3F)
        self.need -= 1
        self.lower, self.upper = 0x80, 0xBF
        if self.need > 0:
            return ("pending", None)
        c = chr(self.code)
        self.reset()
        return ("char", c)


def number_step(n, b):
    """The next number state after byte b, or None if b cannot continue the number."""
    digit = 0x30 <= b <= 0x39
    if n == "minus":
        return "zero" if b == 0x30 else "int" if digit else None
    if n == "int" and digit:
        return "int"
    if n in ("zero", "int") and b == 0x2E:
        return "dot"
    if n in ("dot", "frac") and digit:
        return "frac"
    if n in ("zero", "int", "frac") and b in (0x65, 0x45):
        return "exp"
    if n == "exp" and b in (0x2B, 0x2D):
        return "exp_sign"
    if n in ("exp", "exp_sign", "exp_int") and digit:
        return "exp_int"
    return None


U64_MAX = (1 << 64) - 1
SECONDARY_LIMIT_WAIT_MS = 60_000
SECONDARY = "secondary rate limit"


def seconds_ms(text):
    """Milliseconds of a JSON number of seconds (its text), rounded up, saturating at 64 bits;
    None if negative (but zero). Its first 16 significant digits count, plus one unit of the
    16th if any digit after them is not 0; an exponent's magnitude saturates at 1 000 000."""
    negative = text.startswith("-")
    mantissa, _, exponent = text.lstrip("-").replace("E", "e").partition("e")
    whole, _, fraction = mantissa.partition(".")
    magnitude = exponent.lstrip("+-").lstrip("0") or "0"
    magnitude = 1_000_000 if len(magnitude) > 7 else min(int(magnitude), 1_000_000)
    digits = (whole + fraction).lstrip("0")
    kept, rest = digits[:16], digits[16:]
    power = (-magnitude if exponent.startswith("-") else magnitude) + 3 - len(fraction) + len(rest)
    if not kept:
        ms = 0
    else:
        m = int(kept) + (1 if rest.strip("0") else 0)
        if power > 40:
            ms = U64_MAX
        elif power >= 0:
            ms = min(m * 10 ** power, U64_MAX)
        elif power < -60:
            ms = 1
        else:
            ms = min(-(-m // 10 ** -power), U64_MAX)
    if negative and ms > 0:
        return None
    return ms


class BodyParser:
    """Feed chunks with feed(); finish() says what the body was: (kind, text, truncated).
    `fields` (a dialect's body fields: retry_after, global, secondary_limit) are read too,
    and pushback() says what they told."""

    def __init__(self, capacity, fields=None):
        self.capacity = capacity
        self.fields = fields or {}
        self.retry_after = None
        self.global_ = False
        self.number = bytearray()
        self.message = []
        self.state = "start"  # or a tuple: ("hex", n), ("num", kind), ("lit", which, at)
        self.role = "skip"
        self.depth = 0
        self.stack = []
        self.in_object = False
        self.utf8 = Utf8()
        self.high = 0
        self.hex = 0
        self.key = bytearray()
        self.key_overflow = False
        self.target = "other"
        self.error_message = "absent"
        self.error = "absent"
        self.raw_space = False
        self.text = bytearray()
        self.truncated = False

    # -- text kept for the caller --------------------------------------------------------

    def push(self, c):
        """Appends c if it fits in the capacity; whether it did."""
        encoded = c.encode("utf-8")
        if len(self.text) + len(encoded) > self.capacity:
            return False
        self.text += encoded
        return True

    def emit(self, c):
        if self.role == "scan":
            self.message.append(c)
        elif self.role == "top_key":
            for byte in c.encode("utf-8"):
                if not self.key_overflow and len(self.key) < KEY_CAP:
                    self.key.append(byte)
                else:
                    self.key_overflow = True
        elif self.role == "capture":
            if not self.truncated and not self.push(c):
                self.truncated = True

    def raw_char(self, c):
        """Keeps one character of the raw prefix; True when the prefix is full."""
        if self.truncated:
            return True
        if c in " \t\n\x0c\r":
            self.raw_space = len(self.text) > 0
            return False
        if unicodedata.category(c) == "Cc":
            c = REPLACEMENT
        spaced = (not self.raw_space) or self.push(" ")
        self.raw_space = False
        if not spaced or not self.push(c):
            self.truncated = True
        return self.truncated

    def raw_byte(self, b):
        """(consumed, full)."""
        step, c = self.utf8.push(b)
        if step == "pending":
            return True, False
        if step == "char":
            return True, self.raw_char(c)
        return False, self.raw_char(REPLACEMENT)

    # -- structure -----------------------------------------------------------------------

    def open(self, is_object):
        if self.depth >= MAX_DEPTH:
            return "invalid"
        del self.stack[self.depth:]
        self.stack.append(is_object)
        self.depth += 1
        self.in_object = is_object
        return "key_or_close" if is_object else "value_or_close"

    def close(self, is_object):
        if self.depth == 0 or self.in_object != is_object:
            return "invalid"
        self.depth -= 1
        self.in_object = self.stack[self.depth - 1] if self.depth >= 1 else False
        return "end" if self.depth == 0 else "comma_or_close"

    def begin_top_value(self, is_string, first=0x22):
        slot = "text" if is_string else "not_text"
        capture = False
        target = self.target
        if target in ("retry_after", "global", "message"):
            self.target = "other"
            # The last of each key counts.
            if target == "retry_after":
                self.retry_after = None
                if first == 0x2D or 0x30 <= first <= 0x39:
                    self.number = bytearray([first])
                    return "seconds"
            elif target == "global":
                self.global_ = first == 0x74
            else:
                self.message = None
                if is_string:
                    self.message = []
                    return "scan"
            return "skip"
        if self.target == "error_message":
            self.error_message = slot
            capture = is_string
        elif self.target == "error":
            self.error = slot
            capture = is_string and self.error_message == "absent"
        self.target = "other"
        if capture:
            self.text = bytearray()
            self.truncated = False
            return "capture"
        return "skip"

    def value(self, b):
        at_top = self.depth == 1
        if b == 0x22:
            self.role = self.begin_top_value(True) if at_top else "skip"
            return "str"
        if at_top:
            self.role = self.begin_top_value(False, b)
        if b == 0x7B:
            return self.open(True)
        if b == 0x5B:
            return self.open(False)
        if b == 0x2D:
            return ("num", "minus")
        if b == 0x30:
            return ("num", "zero")
        if 0x31 <= b <= 0x39:
            return ("num", "int")
        if b in (0x74, 0x66, 0x6E):
            return ("lit", {0x74: 0, 0x66: 1, 0x6E: 2}[b], 1)
        return "invalid"

    def begin_key(self):
        if self.depth == 1:
            self.key = bytearray()
            self.key_overflow = False
            self.role = "top_key"
        else:
            self.role = "nested_key"
        return "str"

    # -- strings -------------------------------------------------------------------------

    def end_string(self):
        if self.role == "top_key":
            key = b"" if self.key_overflow else bytes(self.key)
            self.target = {b"errorMessage": "error_message", b"error": "error"}.get(key, "other")
            for name, target in ((b"retry_after", "retry_after"), (b"global", "global"),
                                 (b"message", "message")):
                field = "secondary_limit" if target == "message" else target
                if key == name and self.fields.get(field):
                    self.target = target
            nxt = "colon"
        elif self.role == "nested_key":
            nxt = "colon"
        else:
            nxt = "comma_or_close"
        self.role = "skip"
        return nxt

    def string_byte(self, b):
        """(next state, consumed)."""
        if self.high != 0 and b != 0x5C:
            self.high = 0
            self.emit(REPLACEMENT)
        if b < 0x80 and self.utf8.pending():
            self.utf8.reset()
            self.emit(REPLACEMENT)
        if b == 0x22:
            return self.end_string(), True
        if b == 0x5C:
            return "escape", True
        if b < 0x20:
            return "invalid", True
        if b < 0x80:
            self.emit(chr(b))
            return "str", True
        if self.role == "top_key":
            self.key_overflow = True
        elif self.role == "scan":
            self.message.append("\x80")  # a byte of a character that is not ASCII
        elif self.role == "capture":
            step, c = self.utf8.push(b)
            if step == "char":
                self.emit(c)
            elif step == "replace":
                self.emit(REPLACEMENT)
                return "str", False
        return "str", True

    def escape(self, b):
        if self.high != 0 and b != 0x75:
            self.high = 0
            self.emit(REPLACEMENT)
        if b == 0x75:
            self.hex = 0
            return ("hex", 0)
        if b not in SIMPLE_ESCAPES:
            return "invalid"
        self.emit(SIMPLE_ESCAPES[b])
        return "str"

    def hex_digit(self, n, b):
        if 0x30 <= b <= 0x39:
            v = b - 0x30
        elif 0x61 <= b <= 0x66:
            v = b - 0x61 + 10
        elif 0x41 <= b <= 0x46:
            v = b - 0x41 + 10
        else:
            return "invalid"
        self.hex = (self.hex << 4) + v
        if n < 3:
            return ("hex", n + 1)
        unit = self.hex
        if self.high != 0:
            high = self.high
            self.high = 0
            if 0xDC00 <= unit <= 0xDFFF:
                self.emit(chr(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)))
                return "str"
            self.emit(REPLACEMENT)
        if 0xD800 <= unit <= 0xDBFF:
            self.high = unit
        elif 0xDC00 <= unit <= 0xDFFF:
            self.emit(REPLACEMENT)
        else:
            self.emit(chr(unit))
        return "str"

    # -- the machine ---------------------------------------------------------------------

    def step(self, b):
        """One byte in the current state: the next state, and whether the byte was consumed."""
        st = self.state
        if st == "str":
            return self.string_byte(b)
        if b in JSON_WHITESPACE and st in SKIPS_WHITESPACE:
            return st, True
        if st == "start":
            return ("bom1", True) if b == 0xEF else ("lead", False)
        if st in ("bom1", "bom2"):
            expected = 0xBB if st == "bom1" else 0xBF
            if b == expected:
                return ("bom2" if st == "bom1" else "lead"), True
            self.raw_byte(0xEF)
            if st == "bom2":
                self.raw_byte(0xBB)
            return "raw", False
        if st == "lead":
            return (self.open(True), True) if b == 0x7B else ("raw", False)
        if st == "raw":
            consumed, full = self.raw_byte(b)
            return ("raw_done" if full else "raw"), consumed
        if st == "value":
            return self.value(b), True
        if st == "value_or_close":
            return (self.close(False) if b == 0x5D else self.value(b)), True
        if st == "key_or_close":
            if b == 0x22:
                return self.begin_key(), True
            return (self.close(True) if b == 0x7D else "invalid"), True
        if st == "key":
            return (self.begin_key() if b == 0x22 else "invalid"), True
        if st == "colon":
            return ("value" if b == 0x3A else "invalid"), True
        if st == "comma_or_close":
            if b == 0x2C:
                return ("key" if self.in_object else "value"), True
            if b == 0x7D:
                return self.close(True), True
            if b == 0x5D:
                return self.close(False), True
            return "invalid", True
        if st == "escape":
            return self.escape(b), True
        if st == "end":
            return "invalid", True
        kind = st[0]
        if kind == "hex":
            return self.hex_digit(st[1], b), True
        if kind == "num":
            nxt = number_step(st[1], b)
            if nxt is not None:
                if self.role == "seconds":
                    self.number.append(b)
                return ("num", nxt), True
            if st[1] in ("zero", "int", "frac", "exp_int"):
                if self.role == "seconds":
                    self.retry_after = seconds_ms(self.number.decode("ascii"))
                    self.role = "skip"
                return "comma_or_close", False  # the number ended: b belongs to what follows
            return "invalid", True
        # ("lit", which, at)
        word = LITERALS[st[1]]
        at = st[2]
        if at >= len(word) or word[at] != b:
            return "invalid", True
        if at + 1 == len(word):
            return "comma_or_close", True
        return ("lit", st[1], at + 1), True

    def feed(self, chunk):
        """Feeds the next chunk; 'decided' once more bytes cannot change the answer."""
        i = 0
        while i < len(chunk):
            if self.state in ("invalid", "raw_done"):
                break
            self.state, consumed = self.step(chunk[i])
            if consumed:
                i += 1
        return "decided" if self.state in ("invalid", "raw_done") else "reading"

    def pushback(self):
        """What the body fields told: {"wait_ms", "global"}, only from a whole valid body."""
        if self.state != "end":
            return {"wait_ms": None, "global": False}
        text = "".join(c if c.isascii() else "\x80" for c in (self.message or []))
        waits = [w for w in (self.retry_after,
                             SECONDARY_LIMIT_WAIT_MS if SECONDARY in text.lower() else None)
                 if w is not None]
        return {"wait_ms": max(waits) if waits else None, "global": self.global_}

    def finish(self):
        """(kind, text or None, truncated)."""
        st = self.state
        if st in ("start", "lead"):
            kind = "empty"
        elif st in ("bom1", "bom2", "raw", "raw_done"):
            if st != "raw_done" and self.utf8.pending():
                self.raw_char(REPLACEMENT)
            if st in ("bom1", "bom2"):
                self.raw_char(REPLACEMENT)
            kind = "not_json"
        elif st == "end":
            if self.error_message == "text":
                kind = "error_message"
            elif self.error_message == "absent" and self.error == "text":
                kind = "error"
            else:
                kind = "no_message"
        elif st == "invalid":
            kind = "invalid"
        else:
            kind = "truncated"
        if kind in ("error_message", "error", "not_json"):
            return kind, self.text.decode("utf-8"), self.truncated
        return kind, None, False


def body_json(kind, text, truncated):
    out = {"kind": kind}
    if text is not None:
        out["text"] = text
    out["truncated"] = truncated
    return out
