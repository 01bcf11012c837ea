/*
 * new.c -- `kapsul new TEMPLATE NAME`: a new application from one of the templates compiled into
 * kapsul (app/template.h), in the manner of `spin new`. `kapsul new --list` names them.
 */
#include <stdio.h>
#include <string.h>

#include "app/template.h"
#include "cli/cli.h"

/* One line per template: its id and its description. */
static void list_templates(FILE *f, const char *indent) {
    for (size_t i = 0; i < kpTemplate_count; i++) {
        char desc[200];
        kapsul_error err;
        if (kpTemplate_describe(&kpTemplate_all[i], desc, sizeof desc, &err)) desc[0] = 0;
        fprintf(f, "%s%-10s %s\n", indent, kpTemplate_all[i].id, desc);
    }
}

static void new_usage(FILE *f) {
    fprintf(f, "Create a new application from a template\n"
               "\n"
               "Usage: kapsul new [OPTIONS] TEMPLATE NAME\n"
               "       kapsul new --list\n"
               "\n"
               "Writes the directory NAME (or --output DIR): a spin.toml manifest, the handler's\n"
               "source, a README.md and a .gitignore; then `cd NAME && kapsul build && kapsul up`.\n"
               "NAME is the application's name and its component id: words of a-z and 0-9, each\n"
               "starting with a letter, joined by '-' or '_'. Nothing is overwritten: the directory\n"
               "must not exist yet.\n"
               "\n"
               "Options:\n"
               "  -o, --output DIR  Create the application in DIR instead of ./NAME\n"
               "  -l, --list        List the templates\n"
               "  -h, --help        Print help\n"
               "\n"
               "Templates:\n");
    list_templates(f, "  ");
}

int kpCli_new(int argc, char **argv) {
    const char *output = NULL, *args[2];
    int nargs = 0;
    bool list = false, only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int got;
        if (only_args || a[0] != '-') {
            if (nargs == 2) return kpCli_usageError("new", "unexpected argument '%s'", a);
            args[nargs++] = a;
        } else if (strcmp(a, "--") == 0) {
            only_args = true;
        } else if (kpCli_isHelp(a)) {
            new_usage(stdout);
            return KP_EXIT_OK;
        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
            list = true;
        } else if ((got = kpCli_optionValue(argc, argv, &i, "-o", "--output", &output)) != 0) {
            if (got < 0) return kpCli_usageError("new", "%s needs a directory", a);
        } else {
            return kpCli_usageError("new", "unknown option '%s'", a);
        }
    }
    if (list) {
        if (nargs > 0) return kpCli_usageError("new", "--list takes no arguments");
        list_templates(stdout, "");
        return KP_EXIT_OK;
    }
    if (nargs < 2) return kpCli_usageError("new", nargs == 0 ? "missing TEMPLATE and NAME" : "missing NAME");
    const kpTemplate *t = kpTemplate_find(args[0]);
    if (!t) {
        fprintf(stderr, "kapsul new: no template '%s'; the templates are:\n", args[0]);
        list_templates(stderr, "  ");
        return KP_EXIT_USAGE;
    }
    const char *why = kpTemplate_checkName(args[1]);
    if (why) {
        return kpCli_usageError("new",
                                "name '%s' %s (a name is words of a-z and 0-9, each starting "
                                "with a letter, joined by '-' or '_')",
                                args[1], why);
    }
    const char *dir = output ? output : args[1];
    kapsul_error err;
    kapsul_status st = kpTemplate_write(t, args[1], dir, &err);
    if (st) {
        fprintf(stderr, "kapsul new: %s\n", err.message);
        return st == KAPSUL_ERR_IO ? KP_EXIT_USAGE : KP_EXIT_FAIL;
    }
    fprintf(stderr, "Created %s from template %s. Next: cd %s && kapsul build && kapsul up\n", dir, t->id,
            dir);
    return KP_EXIT_OK;
}
