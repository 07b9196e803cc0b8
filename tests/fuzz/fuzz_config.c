/* libFuzzer target: config_load_string on arbitrary bytes must fail cleanly with a message
 * or give a config that passed every consistency check. */
#include <stdint.h>
#include <stdlib.h>

#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ptts_config c;
    ptts_err e = {0};
    int rc = config_load_string(&c, (const char *)data, size, "base", &e);
    if (rc && !e.msg[0]) abort();
    if (!rc && (c.flow_lm.transformer.d_model % c.flow_lm.transformer.num_heads ||
                !c.flow_lm.lookup_table.tokenizer_path.path || c.mimi.seanet.ratios.n < 1))
        abort();
    config_free(&c);
    return 0;
}
