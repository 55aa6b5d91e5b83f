/* cmd_config.c - `keeptrack config`: print the effective configuration,
 * secrets shown only as (set)/(unset) (config_dump), then the validation
 * result so a misconfiguration is visible before `serve`.
 */
#include <stdio.h>

#include "cli/cli.h"

int cmd_config(kt_config *cfg, int argc, char **argv)
{
    kt_err err = {0};
    if (argc > 1) {
        fprintf(stderr, "keeptrack config: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    config_dump(stdout, cfg);
    if (config_validate(cfg, &err) != KT_OK) {
        fprintf(stderr, "keeptrack: invalid configuration: %s\n", err.msg);
        return 2;
    }
    return 0;
}
