/*
 * with_system_sqlite.c: a program that uses crm and its own SQLite (the
 * system's) at once. Linked with the installed libcrm.a, which exports only
 * crm_* symbols, and the system SQLite (static and shared), the program
 * links without duplicate symbols and its sqlite3_* calls reach the system
 * library, not the copy bundled inside crm. Built by .ci/run.
 * Exits 0 when every check passes.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "crm.h"

int main(void) {
    int failures = 0;
    crm_engine *engine = NULL;
    char *out = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    /* The host's SQLite is the one its header describes. */
    if (strcmp(sqlite3_libversion(), SQLITE_VERSION) != 0 ||
        strcmp(sqlite3_sourceid(), SQLITE_SOURCE_ID) != 0) {
        fprintf(stderr, "sqlite3_libversion() %s, but sqlite3.h is %s\n",
                sqlite3_libversion(), SQLITE_VERSION);
        failures++;
    }
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42);", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW || sqlite3_column_int(stmt, 0) != 42) {
        fprintf(stderr, "system sqlite: %s\n", db ? sqlite3_errmsg(db) : "no db");
        failures++;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);

    /* crm, on its bundled SQLite, in the same process. */
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
        fprintf(stderr, "with_system_sqlite: %d check(s) failed\n", failures);
        return 1;
    }
    printf("with_system_sqlite: crm %s beside system SQLite %s\n", crm_version(),
           sqlite3_libversion());
    return 0;
}
