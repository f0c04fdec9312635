"""Load x86-64 ELF relocatable objects into this process without LLVM.

Why: a warm process (every kernel found in the disk cache) only needs to place cached object
code in memory and patch its addresses. Doing that with LLVM's ORC LLJIT means loading
libllvmlite.so and llvmlite's Python modules (~25 ms per process); this module does the same
job for the objects our code generator emits, in Python, with one mmap.

    image = load([obj_bytes, ...], runtime_symbols={"gk_parallel_run": addr})
    image.symbols["my_kernel"]     # address of an exported (global) symbol

What it handles (what `TargetMachine.emit_object` produces for our modules, large code model):
- the SHF_ALLOC sections of every object (.text/.ltext, .rodata*/.lrodata and the constant
  pools .rodata.cst*, .data*/.ldata, .bss*/.lbss), laid out in ONE mapping, so that 32-bit
  PC-relative references between them always reach: [text + call stubs | rodata + GOT | data];
- RELA relocations R_X86_64_64, PC32, PLT32, GOTPCREL, GOTPCRELX, REX_GOTPCRELX, 32, 32S,
  PC64, GOTOFF64, GOTPC32, GOTPC64. Our objects (large code model) contain only
  R_X86_64_64 in the sections loaded (movabs of constant pools and callees); the others are
  the small-code-model forms, handled so that a change of code model still loads;
- undefined symbols, resolved in this order: global symbols of the objects loaded together
  (a unit's objects call each other), the runtime symbols given (the thread pool), then the
  process (libc, libm, pthreads: dlsym through `ctypes.CDLL(None)`), like LLJIT's
  `add_current_process`. A PLT32 call that cannot reach its target goes through a stub in
  the text segment; GOT-relative references use a GOT in the read-only segment.
- .eh_frame is not loaded: nothing unwinds through kernels (they never throw, and Python
  does not unwind native frames).
Text ends up R+X, rodata and GOT R, data R+W: no page is ever writable and executable once
the code can run.

Errors: `CorruptObject` (the bytes are not a well-formed object: never executed),
`UnsupportedObject` (a valid object using something this loader does not implement: TLS,
constructors, COMMON symbols, another relocation type...: the engine links those with LLJIT)
and `UnreachableRelocation` (a 32-bit reference that cannot reach: no linker can load it).
"""
import ctypes
import os
import struct
import sys
import weakref


class UnsupportedObject(Exception):
    """A well-formed object that needs a feature this loader does not implement."""


class CorruptObject(ValueError):
    """Bytes that are not a well-formed x86-64 ELF relocatable object."""


class UnreachableRelocation(RuntimeError):
    """A 32-bit relocation whose target lies out of its reach (absolute R_X86_64_32/32S
    against code mapped above 4 GiB: static small-code-model objects). LLJIT cannot link
    those either (it aborts the process), so this is raised, not retried there."""


def supported_host():
    """The loader produces x86-64 Linux (SysV ABI) code images only."""
    return sys.platform.startswith("linux") and os.uname().machine in ("x86_64", "amd64")


# -- ELF constants ---------------------------------------------------------------------------

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")

ET_REL, EM_X86_64 = 1, 62
SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 1, 2, 4, 8, 9
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
SHT_X86_64_UNWIND = 0x70000001
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_TLS = 0x1, 0x2, 0x4, 0x400
SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON = 0, 0xFF00, 0xFFF1, 0xFFF2
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_FUNC, STT_SECTION = 2, 3

R_NONE, R_64, R_PC32, R_PLT32 = 0, 1, 2, 4
R_GOTPCREL, R_32, R_32S, R_PC64 = 9, 10, 11, 24
R_GOTOFF64, R_GOTPC32, R_GOTPC64 = 25, 26, 29
R_GOTPCRELX, R_REX_GOTPCRELX = 41, 42
_GOT_RELATIVE = (R_GOTPCREL, R_GOTPCRELX, R_REX_GOTPCRELX)
RELOCATION_NAMES = {
    R_NONE: "R_X86_64_NONE", R_64: "R_X86_64_64", R_PC32: "R_X86_64_PC32",
    R_PLT32: "R_X86_64_PLT32", R_GOTPCREL: "R_X86_64_GOTPCREL", R_32: "R_X86_64_32",
    R_32S: "R_X86_64_32S", R_PC64: "R_X86_64_PC64", R_GOTOFF64: "R_X86_64_GOTOFF64",
    R_GOTPC32: "R_X86_64_GOTPC32", R_GOTPC64: "R_X86_64_GOTPC64",
    R_GOTPCRELX: "R_X86_64_GOTPCRELX", R_REX_GOTPCRELX: "R_X86_64_REX_GOTPCRELX",
}

_TEXT, _RODATA, _DATA = 0, 1, 2   # segments, in mapping order
_PAGE = 4096
_STUB = 16  # jmp *0(%rip); .quad target; 2 bytes of padding (int3)
_MASK64 = (1 << 64) - 1


# -- parsing ---------------------------------------------------------------------------------

class _Section:
    __slots__ = ("index", "name", "type", "flags", "offset", "size", "link", "info", "align",
                 "segment", "address")

    def __init__(self, index, name, fields):
        (_, self.type, self.flags, _, self.offset, self.size, self.link, self.info,
         self.align, _) = fields
        self.index, self.name = index, name
        self.align = max(1, self.align)
        self.segment = None   # _TEXT/_RODATA/_DATA when loaded
        self.address = None   # absolute address when loaded


class _Object:
    """One parsed object: its sections, symbols and relocations (nothing placed yet)."""

    def __init__(self, data, label):
        self.data, self.label = data, label
        if len(data) < _EHDR.size or data[:4] != b"\x7fELF":
            raise CorruptObject(f"{label}: not an ELF file")
        (ident, e_type, machine, _, _, _, shoff, _, _, _, _, shentsize, shnum,
         shstrndx) = _EHDR.unpack_from(data)
        if ident[4] != 2 or ident[5] != 1:
            raise CorruptObject(f"{label}: expected a 64-bit little-endian ELF file")
        if e_type != ET_REL or machine != EM_X86_64:
            raise CorruptObject(f"{label}: expected an x86-64 relocatable object "
                                f"(type {ET_REL}, machine {EM_X86_64}), received type "
                                f"{e_type}, machine {machine}")
        if shentsize != _SHDR.size or shnum == 0 or shstrndx >= shnum:
            raise CorruptObject(f"{label}: bad section header table "
                                f"(entry size {shentsize}, {shnum} entries)")
        self._check(shoff, shnum * _SHDR.size, "section headers")
        headers = [_SHDR.unpack_from(data, shoff + i * _SHDR.size) for i in range(shnum)]
        names = self._bytes_of(headers[shstrndx], "section names")
        self.sections = [_Section(i, _cstr(names, h[0], label), h)
                         for i, h in enumerate(headers)]
        for s in self.sections:
            if s.type != SHT_NOBITS:
                self._check(s.offset, s.size, f"section {s.name!r}")
        symtabs = [s for s in self.sections if s.type == SHT_SYMTAB]
        if len(symtabs) != 1:
            raise CorruptObject(f"{label}: expected one symbol table, found {len(symtabs)}")
        self.symtab = symtabs[0]
        self.symbols = self._read_symbols(self.symtab)

    def _check(self, offset, size, what):
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise CorruptObject(f"{self.label}: {what} [{offset}, {offset + size}) lie "
                                f"outside the {len(self.data)}-byte object")

    def _bytes_of(self, header, what):
        offset, size = header[4], header[5]
        self._check(offset, size, what)
        return self.data[offset:offset + size]

    def _read_symbols(self, symtab):
        if symtab.link >= len(self.sections):
            raise CorruptObject(f"{self.label}: symbol table names a missing string table")
        strtab = self.sections[symtab.link]
        names = self.data[strtab.offset:strtab.offset + strtab.size]
        raw = self.data[symtab.offset:symtab.offset + symtab.size - symtab.size % _SYM.size]
        return [(_cstr(names, n, self.label), info >> 4, info & 0xF, shndx, value, size)
                for n, info, _, shndx, value, size in _SYM.iter_unpack(raw)]

    def relocation_sections(self):
        """(target section, [(offset, type, symbol index, addend)]) of each loaded section."""
        for s in self.sections:
            if s.type == SHT_REL and self._target(s).segment is not None:
                raise UnsupportedObject(f"{self.label}: REL relocations (section {s.name!r})")
            if s.type != SHT_RELA:
                continue
            target = self._target(s)
            if target.segment is None:
                continue  # relocations of a section we do not load (.eh_frame)
            if s.link != self.symtab.index:
                raise CorruptObject(f"{self.label}: {s.name!r} uses another symbol table")
            raw = self.data[s.offset:s.offset + s.size - s.size % _RELA.size]
            yield target, [(off, info & 0xFFFFFFFF, info >> 32, addend)
                           for off, info, addend in _RELA.iter_unpack(raw)]

    def _target(self, rel):
        if not 0 < rel.info < len(self.sections):
            raise CorruptObject(f"{self.label}: {rel.name!r} relocates missing section "
                                f"{rel.info}")
        return self.sections[rel.info]


def _cstr(table, offset, label):
    end = table.find(b"\0", offset)
    if offset >= len(table) or end < 0:
        raise CorruptObject(f"{label}: a name offset ({offset}) lies outside its string table")
    return table[offset:end].decode("utf-8", "replace")


def _segment_of(obj, s):
    """Which segment a section goes to, or None when it is not loaded."""
    if not s.flags & SHF_ALLOC or s.type == SHT_X86_64_UNWIND:
        return None
    if s.flags & SHF_TLS:
        raise UnsupportedObject(f"{obj.label}: thread-local section {s.name!r}")
    if s.type in (SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY):
        raise UnsupportedObject(f"{obj.label}: constructor/destructor section {s.name!r}")
    if s.type not in (SHT_PROGBITS, SHT_NOBITS):
        raise UnsupportedObject(f"{obj.label}: allocated section {s.name!r} of type {s.type}")
    if s.flags & SHF_EXECINSTR:
        return _TEXT
    return _DATA if s.flags & SHF_WRITE else _RODATA


# -- the mapping -----------------------------------------------------------------------------

_libc = {}


def _c():
    """libc's mmap/mprotect/munmap and the process's symbol scope (once per process)."""
    if not _libc:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.mmap.restype = ctypes.c_void_p
        lib.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                             ctypes.c_int, ctypes.c_long]
        lib.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        _libc["lib"] = lib
    return _libc["lib"]


PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20


def _process_symbol(name):
    """Address of `name` in the process (libc, libm, pthreads...), or None."""
    try:
        return ctypes.cast(getattr(_c(), name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _round_up(n, align):
    return (n + align - 1) // align * align


class Image:
    """Code and data of loaded objects, mapped until this object (and every `keep` holder)
    is gone. `symbols`: name -> address of every global symbol the objects define."""

    def __init__(self, address, size, symbols):
        self.address, self.size, self.symbols = address, size, symbols
        finalizer = weakref.finalize(self, _c().munmap, address, size)
        # At exit the process is going away anyway, and a pool worker may still be spinning
        # in this code until the pool's own atexit hook stops it: never unmap then.
        finalizer.atexit = False


def load(objects, runtime_symbols=None, label="kernel"):
    """Map, relocate and protect `objects` (ELF bytes) as one image; see the module doc."""
    parsed = [_Object(bytes(data), f"{label} object {i}") for i, data in enumerate(objects)]
    plan = _Plan(parsed)
    base = _c().mmap(None, plan.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise MemoryError(f"{label}: mmap of {plan.total} bytes failed "
                          f"(errno {ctypes.get_errno()})")
    image = Image(base, plan.total, {})   # from here on, unmapped when dropped (errors too)
    ctx = _Context(bytearray(plan.total), base, plan)
    for obj in parsed:
        for s in obj.sections:
            if s.segment is not None:
                s.address += base + plan.starts[s.segment]
                if s.type != SHT_NOBITS:
                    ctx.write(s.address, obj.data[s.offset:s.offset + s.size])
    image.symbols.update(_global_symbols(parsed))
    resolve = _resolver(image.symbols, runtime_symbols or {})
    for obj in parsed:
        ctx.addresses[id(obj)] = [_symbol_address(obj, i, sym, resolve)
                                  for i, sym in enumerate(obj.symbols)]
    _write_indirections(ctx, resolve, label)
    for obj, target, rels in plan.relocations:
        _apply(ctx, obj, target, rels)
    ctypes.memmove(base, (ctypes.c_char * plan.total).from_buffer(ctx.image), plan.total)
    text, rodata, data = (base + start for start in plan.starts)
    _protect(text, rodata - text, PROT_READ | PROT_EXEC, label)
    _protect(rodata, data - rodata, PROT_READ, label)
    if os.environ.get("GRAPHKIT_PERF_MAP"):
        _append_perf_map(parsed)
    return image


def _append_perf_map(parsed):
    """List the loaded functions in /tmp/perf-<pid>.map, where `perf report` looks up
    symbols of JIT code (GRAPHKIT_PERF_MAP=1: profile kernels by name)."""
    lines = []
    for obj in parsed:
        for name, _, kind, shndx, value, size in obj.symbols:
            if (kind == STT_FUNC and size and 0 < shndx < len(obj.sections)
                    and obj.sections[shndx].address is not None):
                start = obj.sections[shndx].address + value
                lines.append(f"{start:x} {size:x} {name}\n")
    with open(f"/tmp/perf-{os.getpid()}.map", "a", encoding="utf-8") as f:
        f.writelines(lines)


class _Plan:
    """Where everything goes, as offsets from the start of the mapping: each loaded section
    (`section.address`, relative to its segment's start), the segments (`starts`), the call
    stubs at the end of the text segment and the GOT at the end of the rodata segment."""

    def __init__(self, parsed):
        sizes = [0, 0, 0]
        for obj in parsed:
            for s in obj.sections:
                s.segment = _segment_of(obj, s)
                if s.segment is not None:
                    s.address = _round_up(sizes[s.segment], s.align)
                    sizes[s.segment] = s.address + s.size
        self.relocations = [(obj, target, rels) for obj in parsed
                            for target, rels in obj.relocation_sections()]
        self.stubs, self.got = _indirections(self.relocations)
        self.stub_offset = _round_up(sizes[_TEXT], _STUB)
        self.got_offset = _round_up(sizes[_RODATA], 8)   # within the rodata segment
        rodata = _round_up(self.stub_offset + _STUB * len(self.stubs), _PAGE)
        data = rodata + _round_up(self.got_offset + 8 * len(self.got), _PAGE)
        self.starts = (0, rodata, data)
        self.total = max(_PAGE, data + _round_up(sizes[_DATA], _PAGE))


def _write_indirections(ctx, resolve, label):
    """Fill the call stubs (jmp *target(%rip)) and the GOT entries."""
    for name, slot in ctx.stubs.items():
        ctx.write(ctx.stub_base + slot * _STUB, b"\xff\x25\x00\x00\x00\x00"
                  + struct.pack("<Q", _resolved(resolve, name, label)) + b"\xcc\xcc")
    for (obj_id, index), slot in ctx.got.items():
        target = ctx.addresses[obj_id][index]
        if target is None:
            raise UnsupportedObject(f"{label}: a GOT entry for an unresolved symbol")
        ctx.write(ctx.got_base + 8 * slot, struct.pack("<Q", target & _MASK64))


def _protect(address, size, prot, label):
    if size and _c().mprotect(address, size, prot) != 0:
        raise OSError(ctypes.get_errno(), f"{label}: mprotect({prot}) failed")


def _indirections(relocations):
    """Stub slots (name -> i) for PLT32 calls to undefined symbols, which may lie farther
    than 2 GiB away, and GOT slots ((object id, symbol index) -> i)."""
    stubs, got = {}, {}
    for obj, _, rels in relocations:
        for _, rtype, sym, _ in rels:
            if sym >= len(obj.symbols):
                raise CorruptObject(f"{obj.label}: a relocation names symbol {sym}, the "
                                    f"table has {len(obj.symbols)}")
            if rtype == R_PLT32 and obj.symbols[sym][3] == SHN_UNDEF:
                stubs.setdefault(obj.symbols[sym][0], len(stubs))
            elif rtype in _GOT_RELATIVE:
                got.setdefault((id(obj), sym), len(got))
    return stubs, got


def _global_symbols(parsed):
    """name -> address of the global (and weak) symbols defined by the objects."""
    table, strong = {}, set()
    for obj in parsed:
        for name, bind, _, shndx, value, _ in obj.symbols:
            if bind not in (STB_GLOBAL, STB_WEAK) or shndx == SHN_UNDEF:
                continue
            address = _defined_address(obj, name, shndx, value)
            if bind == STB_GLOBAL:
                if name in strong:
                    raise CorruptObject(f"{obj.label}: symbol {name!r} is defined twice")
                strong.add(name)
                table[name] = address
            else:
                table.setdefault(name, address)
    return table


def _defined_address(obj, name, shndx, value):
    if shndx == SHN_ABS:
        return value
    if shndx == SHN_COMMON:
        raise UnsupportedObject(f"{obj.label}: COMMON symbol {name!r}")
    if shndx >= SHN_LORESERVE:
        raise UnsupportedObject(f"{obj.label}: symbol {name!r} in special section {shndx:#x}")
    if shndx >= len(obj.sections):
        raise CorruptObject(f"{obj.label}: symbol {name!r} lies in missing section {shndx}")
    section = obj.sections[shndx]
    if section.address is None:
        return None  # in a section we do not load; an error only if something refers to it
    if value > section.size:
        raise CorruptObject(f"{obj.label}: symbol {name!r} lies outside its section")
    return section.address + value


def _resolver(unit_symbols, runtime_symbols):
    def resolve(name):
        address = unit_symbols.get(name)
        if address is None:
            address = runtime_symbols.get(name)
        if address is None:
            address = _process_symbol(name)
        return address
    return resolve


def _resolved(resolve, name, label):
    address = resolve(name)
    if address is None:
        raise UnsupportedObject(f"{label}: undefined symbol {name!r} (not in the unit, the "
                                f"graphkit runtime, nor the process)")
    return address


def _symbol_address(obj, index, sym, resolve):
    """Absolute address of symbol `index` of `obj` (None: unused null/unloaded symbols)."""
    name, bind, kind, shndx, value, _ = sym
    if index == 0:
        return 0
    if shndx == SHN_UNDEF:
        address = resolve(name)
        if address is None and bind == STB_WEAK:
            return 0  # an undefined weak symbol is null, as in any ELF link
        return address
    if kind == STT_SECTION:
        return obj.sections[shndx].address if shndx < len(obj.sections) else None
    return _defined_address(obj, name, shndx, value)


class _Context:
    """The image being built (a bytearray copied into the mapping at the end) and the final
    addresses that relocations need."""
    __slots__ = ("image", "base", "stubs", "stub_base", "got", "got_base", "addresses")

    def __init__(self, image, base, plan):
        self.image, self.base = image, base
        self.stubs, self.stub_base = plan.stubs, base + plan.stub_offset
        self.got, self.got_base = plan.got, base + plan.starts[_RODATA] + plan.got_offset
        self.addresses = {}   # id(object) -> [absolute address of each symbol (or None)]

    def write(self, address, data):
        at = address - self.base
        self.image[at:at + len(data)] = data


def _apply(ctx, obj, section, rels):
    """Patch one section's relocations into the image (addresses are final)."""
    image, base = ctx.image, ctx.base
    addresses = ctx.addresses[id(obj)]
    for offset, rtype, sym, addend in rels:
        width = 8 if rtype in (R_64, R_PC64, R_GOTOFF64, R_GOTPC64) else 4
        if rtype == R_NONE:
            continue
        if section.type == SHT_NOBITS or offset + width > section.size:
            raise CorruptObject(f"{obj.label}: a relocation at {offset} lies outside section "
                                f"{section.name!r} ({section.size} bytes)")
        place = section.address + offset
        s = addresses[sym]
        if s is None and rtype not in (R_GOTPC32, R_GOTPC64):
            name = obj.symbols[sym][0]
            raise UnsupportedObject(f"{obj.label}: relocation against {name!r}, which is "
                                    f"undefined or in a section that is not loaded")
        if rtype == R_64:
            value = s + addend
        elif rtype == R_PC64:
            value = s + addend - place
        elif rtype == R_PC32:
            value = s + addend - place
        elif rtype == R_PLT32:
            value = s + addend - place
            if not -(1 << 31) <= value < (1 << 31):
                value = ctx.stub_base + _STUB * ctx.stubs[obj.symbols[sym][0]] + addend - place
        elif rtype in _GOT_RELATIVE:
            value = ctx.got_base + 8 * ctx.got[(id(obj), sym)] + addend - place
        elif rtype == R_GOTOFF64:
            value = s + addend - ctx.got_base
        elif rtype in (R_GOTPC32, R_GOTPC64):
            value = ctx.got_base + addend - place
        elif rtype in (R_32, R_32S):
            value = s + addend
        else:
            raise UnsupportedObject(
                f"{obj.label}: relocation type {RELOCATION_NAMES.get(rtype, rtype)} in "
                f"section {section.name!r}")
        at = place - base
        if width == 8:
            struct.pack_into("<Q", image, at, value & _MASK64)
            continue
        if not (0 <= value < (1 << 32) if rtype == R_32 else -(1 << 31) <= value < (1 << 31)):
            raise UnreachableRelocation(
                f"{obj.label}: {RELOCATION_NAMES[rtype]} in {section.name!r} cannot reach "
                f"its target ({value:#x}); compile with the large code model or PIC")
        struct.pack_into("<I", image, at, value & 0xFFFFFFFF)


def relocation_types(data):
    """{relocation type name: count} over the loaded sections of one object (inspection and
    tests: which types our code generator emits)."""
    obj = _Object(bytes(data), "object")
    for s in obj.sections:
        try:
            s.segment = _segment_of(obj, s)
        except UnsupportedObject:
            s.segment = _DATA
    counts = {}
    for _, rels in obj.relocation_sections():
        for _, rtype, _, _ in rels:
            name = RELOCATION_NAMES.get(rtype, str(rtype))
            counts[name] = counts.get(name, 0) + 1
    return counts
