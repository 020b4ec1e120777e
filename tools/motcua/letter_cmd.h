/* `motcua letter pdf` (argv[0] is "letter"). */
#ifndef MOTCUA_TOOLS_LETTER_CMD_H
#define MOTCUA_TOOLS_LETTER_CMD_H

/* Renders a notification's letter as a PDF, signed when asked. Returns 0,
 * 1 on failure, 2 on a usage error. */
int mc_cli_letter(int argc, char **argv);

#endif
