/*
 * main.c — tenancyd's entry point: command-line parsing and dispatch to the
 * modes (config check, plugin listing, development server, daemon).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("tenancyd %s\n", PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "tenancyd: not yet wired\n");
	return 1;
}
