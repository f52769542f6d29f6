/*
 * main.c: the `lac` command. All of it lives in liblac (lac_main) so that
 * every host embeds the same compiler; only this file decides the exit code.
 */
#include "lac.h"

int main(int argc, char **argv) { return lac_main(argc, argv); }
