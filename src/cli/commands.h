/* The CLI's commands: each takes argv after the program name (argv[0] = command). */
#ifndef PTTS_CLI_COMMANDS_H
#define PTTS_CLI_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_export_voice(int argc, char **argv);
int cmd_voices(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_debug(int argc, char **argv);

#endif
