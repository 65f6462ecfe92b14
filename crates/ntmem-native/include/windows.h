/* windows.h for ntmem's native engine (libntmem_native): Windows' memory API on Linux x86-64.
 * The functions are ntmem's memory manager; pointers they return are real pointers, and every
 * page fault on them is resolved by ntmem. */
#ifndef NTMEM_WINDOWS_H
#define NTMEM_WINDOWS_H
#include "ntmem_win.h"
#include "memoryapi.h"
#include "fileapi.h"
#include "sysinfoapi.h"
#include "processthreadsapi.h"
#endif
