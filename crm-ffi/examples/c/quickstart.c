/* quickstart.c: the README's C example. Build it as the README says. */
#include <stdio.h>
#include "crm.h"

int main(void) {
    crm_engine *crm = NULL;
    if (crm_open("crm.db", &crm) != CRM_STATUS_OK) {      /* or ":memory:" */
        fprintf(stderr, "open: %s\n", crm_last_error());
        return 1;
    }
    const char *system = "{\"type\":\"system\"}";
    char *customer = NULL;
    crm_status st = crm_call(crm, system, "customer.create",
                             "{\"kind\":\"person\",\"name\":\"Ada Lovelace\"}",
                             &customer);
    if (st == CRM_STATUS_OK) {
        printf("%s\n", customer);          /* the Customer as JSON */
        crm_string_free(customer);         /* responses belong to the caller */
    } else {
        fprintf(stderr, "%s: %s\n", crm_status_name(st), crm_last_error());
    }
    crm_close(crm);
    return st == CRM_STATUS_OK ? 0 : 1;
}
