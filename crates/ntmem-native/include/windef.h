/* windef.h for ntmem's native engine: everything is in ntmem_win.h. */
#include "ntmem_win.h"
