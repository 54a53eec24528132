/* The C scenario as Cortex-M3 firmware (QEMU lm3s6965evb), linking libbackoff_core_ffi.a built for
 * thumbv7m-none-eabi. Output and exit status go through semihosting (newlib's rdimon). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tests/c/scenario.h"

extern void initialise_monitor_handles(void);
extern uint32_t stack_high_water_mark(void); /* startup.c */

static void say(const char *line) { fputs(line, stdout); }

int main(void) {
    initialise_monitor_handles();
#ifdef BASELINE
    /* The same firmware without the library, for the size report. */
    puts("baseline");
    exit(0);
#endif
    puts("backoff-core from C on a Cortex-M3");
    int wrong = run_scenario(say);
    if (wrong) {
        printf("%d wrong decision(s)\n", wrong);
        exit(1);
    }
    puts("all decisions as expected");
    /* Taken before the line that reports it: that printf's own frames are not counted. */
    unsigned long mark = (unsigned long)stack_high_water_mark();
    printf("stack high-water mark: %lu bytes (main, the scenario and its output so far)\n", mark);
    exit(0);
}
