/* proc_raise.c -- hostile guest: proc_raise must not signal the host process (KILL 9, STOP 18, ABRT 6). */
#include "hostile.h"

#include "raw.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(raw_proc_raise(9));
    REFUSED(raw_proc_raise(18));
    REFUSED(raw_proc_raise(6));
    return hostile_finish();
}
