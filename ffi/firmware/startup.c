/* A minimal Cortex-M start: the vector table, then .data copied, .bss zeroed, the free RAM
 * painted (for the stack's high-water mark), main. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
/* newlib's heap break (declared here: unistd.h hides it under -std=c99). */
extern void *sbrk(ptrdiff_t increment);

#define PAINT 0xC0FFEE42u

void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    /* Everything between the end of .bss and a little below this frame: the heap grows up
     * into it from below, the stack down from above. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = &_ebss; dst < sp - 16;) *dst++ = PAINT;
    exit(main());
}

/* The most stack used since the start, in bytes: from the top of RAM down to the lowest word
 * no longer painted, looking above the heap's current break only. */
uint32_t stack_high_water_mark(void) {
    uint32_t *p = (uint32_t *)(((uintptr_t)sbrk(0) + 3u) & ~(uintptr_t)3u);
    if (p < &_ebss) p = &_ebss;
    while (p < &_estack && *p == PAINT) p++;
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}

static void Fault_Handler(void) {
    exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[])(void) = {
    (void (*)(void))(&_estack), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler,
};
