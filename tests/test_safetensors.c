#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "test.h"

int main(void) {
    ptts_err e = {0};
    st_file *f = NULL;
    int rc = st_open(&f, fixture("golden/tiny/lut.safetensors"), &e);
    CHECK(rc == PTTS_OK, "%s", e.msg);
    if (f) {
        const st_tensor *ids = st_find(f, "ids");
        CHECK(ids && ids->dtype == ST_I64 && ids->ndim == 1);
        st_close(f);
    }
    TEST_END();
}
