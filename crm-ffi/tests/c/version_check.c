/*
 * version_check.c: crm.h compiles cleanly as C99 and as C++11
 * (-Wall -Wextra -Werror -pedantic), and the version the header describes
 * agrees with the library linked at run time. .ci/run builds it both ways
 * against the installed library, with pkg-config:
 *   cc  -std=c99   -x c   version_check.c $(pkg-config --cflags --libs crm)
 *   c++ -std=c++11 -x c++ version_check.c $(pkg-config --cflags --libs crm)
 * Exits 0 when every check passes.
 */
#include <stdio.h>
#include <string.h>

#include "crm.h"

int main(void) {
    char header_version[32];
    int failures = 0;
    crm_engine *engine = NULL;
    char *out = NULL;

    snprintf(header_version, sizeof header_version, "%d.%d.%d", CRM_VERSION_MAJOR,
             CRM_VERSION_MINOR, CRM_VERSION_PATCH);
    if (!CRM_CHECK_VERSION()) {
        fprintf(stderr, "CRM_CHECK_VERSION() failed: header %u, library %u\n",
                (unsigned)CRM_VERSION_NUMBER, (unsigned)crm_version_number());
        failures++;
    }
    if (crm_version_number() != CRM_VERSION_NUMBER) {
        fprintf(stderr, "version number: header %u, library %u\n",
                (unsigned)CRM_VERSION_NUMBER, (unsigned)crm_version_number());
        failures++;
    }
    if (CRM_VERSION_NUMBER != CRM_VERSION_MAJOR * 1000000 + CRM_VERSION_MINOR * 1000 +
                                  CRM_VERSION_PATCH) {
        fprintf(stderr, "CRM_VERSION_NUMBER is not MAJOR*1000000 + MINOR*1000 + PATCH\n");
        failures++;
    }
    if (strcmp(crm_version(), header_version) != 0) {
        fprintf(stderr, "crm_version() %s, header %s\n", crm_version(), header_version);
        failures++;
    }
    if (crm_open(":memory:", &engine) != CRM_STATUS_OK) {
        fprintf(stderr, "crm_open: %s\n", crm_last_error());
        return 1;
    }
    if (crm_call(engine, "{\"type\":\"system\"}", "customer.create",
                 "{\"kind\":\"person\",\"name\":\"Ada\"}", &out) != CRM_STATUS_OK ||
        out == NULL || strstr(out, "\"name\":\"Ada\"") == NULL) {
        fprintf(stderr, "customer.create: %s\n", crm_last_error());
        failures++;
    }
    crm_string_free(out);
    crm_close(engine);
    if (failures) {
        fprintf(stderr, "version_check: %d check(s) failed\n", failures);
        return 1;
    }
    printf("version_check: crm %s, header and library agree\n", crm_version());
    return 0;
}
