# CMake toolchain for cross-compiling fastq to aarch64 Linux with Debian's g++-aarch64-linux-gnu.
# Used by scripts/test-aarch64.sh; FASTQ_AARCH64_ROOT (cache variable or environment) is the folder
# into which that script unpacks Debian's arm64 Python, NumPy and libc with `dpkg -x`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT FASTQ_AARCH64_ROOT AND DEFINED ENV{FASTQ_AARCH64_ROOT})
  set(FASTQ_AARCH64_ROOT "$ENV{FASTQ_AARCH64_ROOT}")
endif()
# try_compile projects re-read this file: hand the variable on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES FASTQ_AARCH64_ROOT)

# Target programs (FindPython's interpreter queries, try_run, ctest) run under qemu-user, with the
# unpacked root as the place where the arm64 loader and shared libraries are looked up.
if(FASTQ_AARCH64_ROOT)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${FASTQ_AARCH64_ROOT}")
  set(CMAKE_FIND_ROOT_PATH "${FASTQ_AARCH64_ROOT}" /usr/aarch64-linux-gnu)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
  set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
endif()

# Host tools from the host; headers and libraries only from the target roots; CMake packages
# (pybind11's config is arch-neutral and lives in the host Python) from either.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
