/* The C scenario on the host: built with -Wall -Wextra -Werror and sanitizers by `bash ffi/run`. */
#include <stdio.h>

#include "scenario.h"

static void say(const char *line) { fputs(line, stdout); }

int main(void) {
    int wrong = run_scenario(say);
    if (wrong) {
        printf("%d wrong decision(s)\n", wrong);
        return 1;
    }
    puts("all decisions as expected");
    return 0;
}
