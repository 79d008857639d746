/*
 * smoke.c: walks a full crm-core workflow through the C API and checks
 * results and error codes. Built by .ci/run with
 *   cc -std=c11 -Wall -Wextra -Werror -pedantic -Icrm-ffi/include \
 *      crm-ffi/tests/c/smoke.c target/debug/libcrm_ffi.a -lpthread -ldl -lm ...
 * and run plain and under valgrind --leak-check=full.
 *
 * Exits 0 when every check passes; prints each failed check and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "crm.h"

static int failures = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",  \
                    __FILE__, __LINE__, #cond, crm_last_error());          \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static const char *SYSTEM = "{\"type\":\"system\"}";

/* Runs op as the system actor; returns the status and stores the response
 * (or NULL) in *out. The caller frees *out with crm_string_free. */
static crm_status call(const crm_engine *e, const char *op, const char *req,
                       char **out) {
    return crm_call(e, SYSTEM, op, req, out);
}

/* Copies the string value of the first "key":"..." in json into buf. */
static int get_str(const char *json, const char *key, char *buf, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p) return 0;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= cap) return 0;
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    return 1;
}

/* The integer value of the first "key":N in json, or -1. */
static long get_int(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Counts the occurrences of needle in hay. */
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}

/* Calls op and expects the failure `want` with a message and no response. */
static void expect_fail(const crm_engine *e, const char *op, const char *req,
                        crm_status want) {
    char *out = NULL;
    crm_status st = call(e, op, req, &out);
    if (st != want) {
        fprintf(stderr, "%s %s: got %s, want %s (%s)\n", op, req,
                crm_status_name((int)st), crm_status_name((int)want),
                crm_last_error());
        failures++;
    }
    CHECK(out == NULL);
    CHECK(strlen(crm_last_error()) > 0);
    crm_string_free(out);
}

struct worker {
    const crm_engine *engine;
    int thread;
    int failed;
};

/* Creates 20 customers named "Tn-i" from its own thread. */
static int worker_main(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < 20; i++) {
        char req[128];
        snprintf(req, sizeof req,
                 "{\"kind\":\"person\",\"name\":\"Worker T%d-%d\"}", w->thread,
                 i);
        char *out = NULL;
        if (call(w->engine, "customer.create", req, &out) != CRM_STATUS_OK)
            w->failed++;
        crm_string_free(out);
    }
    return 0;
}

int main(void) {
    char *out = NULL;
    char customer[64], pipeline[64], deal[64], task[64], segment[64];
    char req[512];

    CHECK(strlen(crm_version()) > 0);
    /* The header's version macros describe the library linked. */
    CHECK(CRM_CHECK_VERSION());
    CHECK(crm_version_number() == CRM_VERSION_NUMBER);
    {
        char v[32];
        snprintf(v, sizeof v, "%d.%d.%d", CRM_VERSION_MAJOR, CRM_VERSION_MINOR,
                 CRM_VERSION_PATCH);
        CHECK(strcmp(crm_version(), v) == 0);
    }
    CHECK(strcmp(crm_status_name(CRM_STATUS_NOT_FOUND), "CRM_STATUS_NOT_FOUND") == 0);

    /* Opening: bad arguments first. */
    crm_engine *e = (crm_engine *)&failures; /* must be overwritten */
    CHECK(crm_open(NULL, &e) == CRM_STATUS_NULL_ARGUMENT);
    CHECK(e == NULL);
    CHECK(crm_open(":memory:", NULL) == CRM_STATUS_NULL_ARGUMENT);
    CHECK(crm_open(":memory:", &e) == CRM_STATUS_OK);
    CHECK(e != NULL);
    if (!e) return 1;
    CHECK(strcmp(crm_last_error(), "") == 0);

    /* A customer. */
    CHECK(call(e, "customer.create",
               "{\"kind\":\"person\",\"name\":\"Ada Lovelace\","
               "\"emails\":[\"ada@example.org\"]}",
               &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", customer, sizeof customer));
    CHECK(get_int(out, "version") == 1);
    crm_string_free(out);

    /* A pipeline: lead -> proposal (needs an amount) -> won / lost. */
    CHECK(call(e, "pipeline.create",
               "{\"name\":\"Sales\",\"stages\":["
               "{\"key\":\"lead\",\"name\":\"Lead\",\"probability\":10,\"kind\":\"open\"},"
               "{\"key\":\"proposal\",\"name\":\"Proposal\",\"probability\":50,"
               "\"kind\":\"open\",\"guards\":[\"requires_amount\"]},"
               "{\"key\":\"won\",\"name\":\"Won\",\"probability\":100,\"kind\":\"won\"},"
               "{\"key\":\"lost\",\"name\":\"Lost\",\"probability\":0,\"kind\":\"lost\"}]}",
               &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", pipeline, sizeof pipeline));
    crm_string_free(out);

    /* A deal without an amount cannot enter the proposal stage. */
    snprintf(req, sizeof req,
             "{\"customer\":\"%s\",\"pipeline\":\"%s\",\"title\":\"Engines\"}",
             customer, pipeline);
    CHECK(call(e, "deal.create", req, &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", deal, sizeof deal));
    CHECK(get_str(out, "stage", req, sizeof req) && strcmp(req, "lead") == 0);
    crm_string_free(out);
    snprintf(req, sizeof req,
             "{\"id\":\"%s\",\"version\":1,\"stage\":\"proposal\"}", deal);
    expect_fail(e, "deal.move", req, CRM_STATUS_GUARD_FAILED);
    CHECK(strstr(crm_last_error(), "proposal") != NULL);
    /* The same failure, structured: the library owns the string. */
    CHECK(strstr(crm_last_error_json(), "\"status_name\":\"CRM_STATUS_GUARD_FAILED\"") != NULL);
    CHECK(strstr(crm_last_error_json(), "\"entity\":\"deal\"") != NULL);
    CHECK(strstr(crm_last_error_json(), deal) != NULL);
    CHECK(strstr(crm_last_error_json(), "\"value\":\"proposal\"") != NULL);
    /* A misspelled field is refused by name, with its JSON path. */
    expect_fail(e, "customer.list", "{\"filter\":{\"tgs\":\"x\"}}", CRM_STATUS_INVALID_INPUT);
    CHECK(strstr(crm_last_error(), "unknown field `tgs`") != NULL);
    CHECK(strstr(crm_last_error_json(), "\"path\":\"filter.tgs\"") != NULL);

    /* Won, then moving back is refused and a stale version conflicts. */
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"version\":1}", deal);
    CHECK(call(e, "deal.win", req, &out) == CRM_STATUS_OK);
    CHECK(get_int(out, "version") == 2);
    CHECK(strstr(out, "\"stage\":\"won\"") != NULL);
    crm_string_free(out);
    snprintf(req, sizeof req,
             "{\"id\":\"%s\",\"version\":2,\"stage\":\"lead\"}", deal);
    expect_fail(e, "deal.move", req, CRM_STATUS_TRANSITION_REFUSED);
    snprintf(req, sizeof req,
             "{\"id\":\"%s\",\"version\":1,\"reason\":\"price\"}", deal);
    expect_fail(e, "deal.lose", req, CRM_STATUS_CONFLICT);

    /* A task, completed. */
    snprintf(req, sizeof req,
             "{\"kind\":\"task\",\"subject\":\"Send offer\",\"customer\":\"%s\"}",
             customer);
    CHECK(call(e, "activity.log", req, &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", task, sizeof task));
    crm_string_free(out);
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"version\":1}", task);
    CHECK(call(e, "activity.complete", req, &out) == CRM_STATUS_OK);
    CHECK(get_int(out, "version") == 2);
    crm_string_free(out);

    /* A saved segment: Ada is still a lead. */
    CHECK(call(e, "segment.create",
               "{\"name\":\"Leads\",\"expression\":\"lifecycle = lead\"}",
               &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", segment, sizeof segment));
    crm_string_free(out);
    snprintf(req, sizeof req, "{\"id\":\"%s\"}", segment);
    CHECK(call(e, "segment.evaluate", req, &out) == CRM_STATUS_OK);
    CHECK(get_int(out, "count") == 1);
    CHECK(out && strstr(out, customer) != NULL);
    crm_string_free(out);

    /* KPIs: one deal, won. */
    CHECK(call(e, "kpi.report", "{}", &out) == CRM_STATUS_OK);
    CHECK(out && strstr(out, "\"won\":1") != NULL);
    crm_string_free(out);

    /* The audit log: customer, pipeline, deal, win, task, completion,
     * segment = 7 events. */
    CHECK(call(e, "event.list", "{\"page\":{\"limit\":100}}", &out) == CRM_STATUS_OK);
    CHECK(count(out, "\"seq\":") == 7);
    crm_string_free(out);

    /* Bad input: each gets its own status, and nothing is written. */
    out = (char *)SYSTEM; /* must be overwritten with NULL */
    CHECK(crm_call(NULL, SYSTEM, "customer.list", "{}", &out) == CRM_STATUS_NULL_ARGUMENT);
    CHECK(out == NULL);
    CHECK(crm_call(e, NULL, "customer.list", "{}", &out) == CRM_STATUS_NULL_ARGUMENT);
    CHECK(crm_call(e, SYSTEM, NULL, "{}", &out) == CRM_STATUS_NULL_ARGUMENT);
    CHECK(crm_call(e, SYSTEM, "customer.list", "{}", NULL) == CRM_STATUS_NULL_ARGUMENT);
    expect_fail(e, "customer.create", "{\"kind\":\"person\",\"name\":\"\xff\"}",
                CRM_STATUS_INVALID_UTF8);
    expect_fail(e, "customer.create", "{\"kind\":", CRM_STATUS_INVALID_JSON);
    expect_fail(e, "customer.create", "{\"kind\":\"person\"}", CRM_STATUS_INVALID_INPUT);
    expect_fail(e, "customer.create",
                "{\"kind\":\"person\",\"name\":\"Bo\",\"emails\":[\"not an email\"]}",
                CRM_STATUS_INVALID_INPUT);
    expect_fail(e, "deal.get", "{\"id\":\"0190d5d0-0000-7000-8000-000000000000\"}",
                CRM_STATUS_NOT_FOUND);
    expect_fail(e, "deal.explode", "{}", CRM_STATUS_UNKNOWN_OPERATION);
    CHECK(crm_call(e, "{\"type\":\"user\",\"id\":\"0190d5d0-0000-7000-8000-000000000000\"}",
                   "customer.list", "{}", &out) == CRM_STATUS_PERMISSION_DENIED);
    CHECK(out == NULL);
    CHECK(call(e, "event.list", "{\"page\":{\"limit\":100}}", &out) == CRM_STATUS_OK);
    CHECK(count(out, "\"seq\":") == 7);
    crm_string_free(out);

    /* Predictive models. Grace buys once for 100 EUR (the C API dates
     * everything now, so nobody has a repeat purchase). */
    char grace[64];
    CHECK(call(e, "customer.create", "{\"kind\":\"person\",\"name\":\"Grace\"}",
               &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", grace, sizeof grace));
    crm_string_free(out);
    snprintf(req, sizeof req,
             "{\"customer\":\"%s\",\"pipeline\":\"%s\",\"title\":\"Order\","
             "\"amount\":{\"amount\":\"100.00\",\"currency\":\"EUR\"}}",
             grace, pipeline);
    CHECK(call(e, "deal.create", req, &out) == CRM_STATUS_OK);
    CHECK(get_str(out, "id", deal, sizeof deal));
    crm_string_free(out);
    snprintf(req, sizeof req, "{\"id\":\"%s\",\"version\":1}", deal);
    CHECK(call(e, "deal.win", req, &out) == CRM_STATUS_OK);
    crm_string_free(out);
#define OBS "\"observation\":{\"end\":\"2100-01-01T00:00:00Z\",\"currency\":\"EUR\"}"
#define CLV "\"clv\":{\"horizon\":12,\"discount_period\":1,\"unit\":\"month\"," \
            "\"discount_rate\":0.01}"
    /* Without repeat buyers the models cannot be fitted: a typed refusal. */
    expect_fail(e, "predict.fit", "{" OBS ",\"unit\":\"week\"}", CRM_STATUS_INVALID_INPUT);
    CHECK(strstr(crm_last_error(), "repeat purchase") != NULL);
    expect_fail(e, "predict.write_scores", "{" OBS "," CLV "}", CRM_STATUS_INVALID_INPUT);
    /* Scores under the published CDNOW parameters: a customer without a
     * repeat purchase is alive, and expects the population mean spend
     * p v / (q - 1) = 6.25 * 15.44 / 2.74 = 35.22 EUR. */
    CHECK(call(e, "predict.score",
               "{" OBS ",\"unit\":\"week\","
               "\"bg_nbd\":{\"r\":0.243,\"alpha\":4.414,\"a\":0.793,\"b\":2.426},"
               "\"gamma_gamma\":{\"p\":6.25,\"q\":3.74,\"v\":15.44}," CLV "}",
               &out) == CRM_STATUS_OK);
    CHECK(count(out, "\"customer\":") == 1);
    CHECK(out && strstr(out, grace) != NULL);
    CHECK(out && strstr(out, "\"p_alive\":1.0") != NULL);
    CHECK(out && strstr(out, "\"expected_spend\":{\"amount\":\"35.22\"") != NULL);
    crm_string_free(out);
    /* Parameters are checked: a negative r is refused. */
    expect_fail(e, "predict.score",
                "{" OBS ",\"bg_nbd\":{\"r\":-1,\"alpha\":4.414,\"a\":0.793,\"b\":2.426},"
                CLV "}",
                CRM_STATUS_INVALID_INPUT);
    CHECK(strstr(crm_last_error(), "invalid r") != NULL);
#undef OBS
#undef CLV

    /* Automation: rules, a loop refused with its own status, run_due and
     * the outbox. */
    {
        char rule[64], cy[64], note[64];
        CHECK(call(e, "rule.create",
                   "{\"name\":\"Overdue\",\"trigger\":\"task_overdue\","
                   "\"actions\":[{\"notify\":{\"text\":\"Task overdue\"}}]}",
                   &out) == CRM_STATUS_OK);
        CHECK(get_str(out, "id", rule, sizeof rule));
        CHECK(get_int(out, "version") == 1);
        crm_string_free(out);
        expect_fail(e, "rule.create",
                    "{\"name\":\"Empty\",\"trigger\":\"deal_won\",\"actions\":[]}",
                    CRM_STATUS_INVALID_INPUT);
        CHECK(strstr(crm_last_error(), "actions") != NULL);
        CHECK(call(e, "rule.create",
                   "{\"name\":\"A\",\"trigger\":{\"field_changed\":{\"entity\":"
                   "\"customer\",\"field\":\"lifecycle\",\"to\":\"prospect\"}},"
                   "\"condition\":\"lifecycle = prospect\","
                   "\"actions\":[{\"set_lifecycle\":{\"to\":\"lead\"}}]}",
                   &out) == CRM_STATUS_OK);
        crm_string_free(out);
        CHECK(call(e, "rule.create",
                   "{\"name\":\"B\",\"trigger\":{\"field_changed\":{\"entity\":"
                   "\"customer\",\"field\":\"lifecycle\",\"to\":\"lead\"}},"
                   "\"actions\":[{\"set_lifecycle\":{\"to\":\"prospect\"}}]}",
                   &out) == CRM_STATUS_OK);
        crm_string_free(out);
        CHECK(call(e, "customer.create", "{\"kind\":\"person\",\"name\":\"Cy\"}",
                   &out) == CRM_STATUS_OK);
        CHECK(get_str(out, "id", cy, sizeof cy));
        crm_string_free(out);
        snprintf(req, sizeof req,
                 "{\"id\":\"%s\",\"version\":1,\"patch\":{\"lifecycle\":\"prospect\"}}",
                 cy);
        expect_fail(e, "customer.update", req, CRM_STATUS_AUTOMATION_LOOP);
        CHECK(strstr(crm_last_error(), "A") != NULL);
        CHECK(strcmp(crm_status_name(CRM_STATUS_AUTOMATION_LOOP),
                     "CRM_STATUS_AUTOMATION_LOOP") == 0);
        CHECK(call(e, "rule.list", "{}", &out) == CRM_STATUS_OK);
        CHECK(count(out, "\"trigger\":") == 3);
        crm_string_free(out);

        /* A task due in 2020 is overdue once, however often run_due runs. */
        snprintf(req, sizeof req,
                 "{\"kind\":\"task\",\"subject\":\"Call back\",\"customer\":\"%s\","
                 "\"due_at\":\"2020-01-01T00:00:00Z\"}",
                 customer);
        CHECK(call(e, "activity.log", req, &out) == CRM_STATUS_OK);
        crm_string_free(out);
        CHECK(call(e, "automation.run_due", "{\"now\":\"2020-01-02T00:00:00Z\"}",
                   &out) == CRM_STATUS_OK);
        CHECK(count(out, "\"episode\":\"2020-01-01T00:00:00.000Z\"") == 1);
        crm_string_free(out);
        CHECK(call(e, "automation.run_due", "{}", &out) == CRM_STATUS_OK);
        CHECK(out && strcmp(out, "{\"fired\":[],\"failed\":[]}") == 0);
        crm_string_free(out);

        CHECK(call(e, "outbox.list", "{}", &out) == CRM_STATUS_OK);
        CHECK(count(out, "\"text\":\"Task overdue\"") == 1);
        CHECK(get_str(out, "id", note, sizeof note));
        crm_string_free(out);
        snprintf(req, sizeof req, "{\"id\":\"%s\",\"version\":1}", note);
        CHECK(call(e, "outbox.acknowledge", req, &out) == CRM_STATUS_OK);
        CHECK(get_int(out, "version") == 2);
        crm_string_free(out);
        CHECK(call(e, "outbox.list", "{}", &out) == CRM_STATUS_OK);
        CHECK(out && strcmp(out, "[]") == 0);
        crm_string_free(out);
        CHECK(call(e, "outbox.list", "{\"include_acknowledged\":true}", &out) ==
              CRM_STATUS_OK);
        CHECK(count(out, "\"acknowledged_at\":\"") == 1);
        crm_string_free(out);

        /* Deactivated, and a stale version conflicts. */
        snprintf(req, sizeof req,
                 "{\"id\":\"%s\",\"version\":1,\"rule\":{\"name\":\"Overdue\","
                 "\"active\":false,\"trigger\":\"task_overdue\","
                 "\"actions\":[{\"notify\":{\"text\":\"Task overdue\"}}]}}",
                 rule);
        CHECK(call(e, "rule.update", req, &out) == CRM_STATUS_OK);
        CHECK(get_int(out, "version") == 2);
        CHECK(strstr(out, "\"active\":false") != NULL);
        crm_string_free(out);
        expect_fail(e, "rule.update", req, CRM_STATUS_CONFLICT);
        snprintf(req, sizeof req, "{\"id\":\"%s\"}", rule);
        CHECK(call(e, "rule.get", req, &out) == CRM_STATUS_OK);
        CHECK(get_int(out, "version") == 2);
        crm_string_free(out);
    }

    /* Two threads share the engine. */
    struct worker w[2] = {{e, 0, 0}, {e, 1, 0}};
    thrd_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(thrd_create(&t[i], worker_main, &w[i]) == thrd_success);
    for (int i = 0; i < 2; i++) {
        CHECK(thrd_join(t[i], NULL) == thrd_success);
        CHECK(w[i].failed == 0);
    }
    CHECK(call(e, "customer.list", "{\"page\":{\"limit\":1000}}", &out) == CRM_STATUS_OK);
    CHECK(count(out, "\"name\":\"Worker T") == 40);
    crm_string_free(out);

    crm_close(e);
    crm_close(NULL);
    crm_string_free(NULL);

    if (failures) {
        fprintf(stderr, "smoke.c: %d check(s) failed\n", failures);
        return 1;
    }
    printf("smoke.c: all checks passed (crm %s)\n", crm_version());
    return 0;
}
