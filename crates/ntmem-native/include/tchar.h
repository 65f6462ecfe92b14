/* tchar.h for ntmem's native engine: the ANSI mapping (UNICODE programs use the W names). */
#ifndef NTMEM_TCHAR_H
#define NTMEM_TCHAR_H
#include "ntmem_win.h"
#include <stdio.h>
#define _T(x) x
#define _TEXT(x) x
#define _tmain main
#define _tprintf printf
#define _ftprintf fprintf
#define _stprintf sprintf
#define _tcslen strlen
#define _tcscpy strcpy
#define _tcscmp strcmp
#define _tcsncpy strncpy
#endif
