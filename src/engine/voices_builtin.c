/* The predefined voices of the released languages (SPEC 1.5). */
#include <string.h>

#include "engine.h"

static const char *const english[] = {
    "alba",           "anna",        "azelma", "bill_boerst", "caro_davy", "charles",
    "cosette",        "eponine",     "eve",    "fantine",     "george",    "jane",
    "jean",           "javert",      "marius", "mary",        "michael",   "paul",
    "peter_yearsley", "stuart_bell", "vera",   NULL};
static const char *const italian[] = {"giovanni", NULL};
static const char *const spanish[] = {"lola", NULL};
static const char *const german[] = {"juergen", NULL};
static const char *const portuguese[] = {"rafael", NULL};
static const char *const french[] = {"estelle", NULL};

static const struct {
    const char *prefix; /* matches the config name and its _24l / dated variants */
    const char *const *names;
} langs[] = {
    {"english", english}, {"italian", italian},       {"spanish", spanish},
    {"german", german},   {"portuguese", portuguese}, {"french", french},
};

int ptts_voice_names(const char *language, const char *const **names) {
    if (!language) language = "english";
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        size_t n = strlen(langs[i].prefix);
        if (!strncmp(language, langs[i].prefix, n) && (!language[n] || language[n] == '_')) {
            if (names) *names = langs[i].names;
            return 0; /* the first name is each language's default */
        }
    }
    if (names) *names = NULL;
    return PTTS_ERR_NOT_FOUND;
}

int eng_is_voice_name(const char *s) {
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
        for (const char *const *n = langs[i].names; *n; n++)
            if (!strcmp(*n, s)) return 1;
    return 0;
}
