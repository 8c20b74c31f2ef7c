// fluxserve: text-to-image server. See README.md and `fluxserve --help`.
#include "cli/cli.h"

int main(int argc, char** argv) { return flx::RunCli(argc, argv); }
