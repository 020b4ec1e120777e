/* The runtime's process-wide settings that need no server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <malloc.h>
#include <stdlib.h>

#include "motcua/service.h"

/* Allocates and frees many small blocks (more than the thread cache
 * keeps); returns the bytes glibc then holds in fastbins. */
static size_t small_blocks_set_aside(void)
{
    enum { N = 2000 };
    static void *blocks[N];
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(24 + (size_t)(i % 4) * 16);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    return mallinfo2().fsmblks;
}

/* A service's freed small blocks are not set aside for a later merge of
 * all of them (mc_service_tune_malloc): glibc's default does. */
static void test_freed_small_blocks_are_not_set_aside(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* ASan's allocator replaces glibc's */
#endif
    /* glibc's default sets them aside; GLIBC_TUNABLES=glibc.malloc.mxfast=0
     * (or another allocator preloaded) leaves nothing to show. */
    if (small_blocks_set_aside() == 0)
        skip();
    mc_service_tune_malloc();
    assert_int_equal(mallinfo2().fsmblks, 0);
    assert_int_equal(small_blocks_set_aside(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freed_small_blocks_are_not_set_aside),
    };
    return cmocka_run_group_tests_name("unit: service", tests, NULL, NULL);
}
