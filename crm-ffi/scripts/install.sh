#!/usr/bin/env bash
# Installs the crm C library under a prefix:
#
#   crm-ffi/scripts/install.sh [--debug] PREFIX
#
#   PREFIX/include/crm.h
#   PREFIX/lib/libcrm.so.X.Y.Z, libcrm.so.X (the SONAME), libcrm.so
#   PREFIX/lib/libcrm.a          exports only crm_* symbols (see below)
#   PREFIX/lib/pkgconfig/crm.pc
#
# Then:   cc app.c $(pkg-config --cflags --libs crm)            (shared)
#         cc app.c $(pkg-config --cflags crm) PREFIX/lib/libcrm.a \
#            $(pkg-config --libs-only-l --static crm | sed 's/-lcrm //')  (static)
# with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system one.
#
# Builds crm-ffi with cargo first (release; --debug for the debug profile,
# which CI uses to reuse its build). CARGO_TARGET_DIR is honoured.
#
# Why libcrm.a is rewritten: cargo's libcrm_ffi.a holds the whole bundled
# SQLite with its sqlite3_* symbols global, so a host that links its own
# SQLite gets duplicate symbols (static) or silently the bundled copy
# (shared). The script links the archive's objects into one relocatable
# object (ld -r), makes every global symbol but the crm_* API local
# (objcopy --keep-global-symbols), and archives that one object.
set -euo pipefail

profile=release
if [ "${1:-}" = "--debug" ]; then profile=debug; shift; fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--debug] PREFIX" >&2
    exit 2
fi
prefix="$1"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

crate_dir="$(cd "$(dirname "$0")/.." && pwd)"
workspace="$(cd "$crate_dir/.." && pwd)"
target="${CARGO_TARGET_DIR:-$workspace/target}"
case "$target" in /*) ;; *) target="$workspace/$target" ;; esac

if [ "$profile" = release ]; then
    cargo build --quiet --locked --manifest-path "$crate_dir/Cargo.toml" -p crm-ffi --lib --release
else
    cargo build --quiet --locked --manifest-path "$crate_dir/Cargo.toml" -p crm-ffi --lib
fi
out="$target/$profile"

header="$crate_dir/include/crm.h"
version_of() { sed -n "s/^#define CRM_VERSION_$1 \\([0-9]*\\)\$/\\1/p" "$header"; }
major="$(version_of MAJOR)"
version="$major.$(version_of MINOR).$(version_of PATCH)"

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$header" "$prefix/include/crm.h"

# Shared library, with its SONAME (set by crm-ffi/build.rs) and links.
install -m 755 "$out/libcrm_ffi.so" "$prefix/lib/libcrm.so.$version"
ln -sf "libcrm.so.$version" "$prefix/lib/libcrm.so.$major"
ln -sf "libcrm.so.$major" "$prefix/lib/libcrm.so"

# Static library exporting only crm_* symbols.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# readelf, not nm: nm may hand objects to an LTO plugin that rejects them.
global_defined() {
    readelf -sW "$1" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $8 != "" { print $8 }'
}
ld -r --whole-archive -o "$work/crm.o" "$out/libcrm_ffi.a"
global_defined "$work/crm.o" | grep '^crm_' | sort -u > "$work/keep.txt"
if ! grep -qx crm_call "$work/keep.txt"; then
    echo "install.sh: crm_call is not among the archive's symbols" >&2
    exit 1
fi
objcopy --keep-global-symbols="$work/keep.txt" "$work/crm.o" "$work/crm-local.o"
rm -f "$work/libcrm.a"
# Same reason: give ar GCC's LTO plugin explicitly, so it does not try the
# others installed (LLVM's aborts on an object with this many sections).
ar_plugin=()
lto_plugin="$(cc -print-file-name=liblto_plugin.so 2>/dev/null || true)"
if [ -f "$lto_plugin" ]; then ar_plugin=(--plugin "$lto_plugin"); fi
ar "${ar_plugin[@]}" rcs "$work/libcrm.a" "$work/crm-local.o"
install -m 644 "$work/libcrm.a" "$prefix/lib/libcrm.a"
leaked="$(global_defined "$prefix/lib/libcrm.a" | grep -vc '^crm_' || true)"
if [ "$leaked" -ne 0 ]; then
    echo "install.sh: libcrm.a still exports $leaked non-crm symbols" >&2
    exit 1
fi

# The system libraries the static library needs, from
# `cargo rustc -p crm-ffi -- --print native-static-libs` on Linux.
cat > "$prefix/lib/pkgconfig/crm.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: crm
Description: crm-core, an embeddable CRM engine (C ABI)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lcrm
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PC
echo "installed crm $version under $prefix"
