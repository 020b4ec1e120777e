/* motcua-sender: options, signals and the loop live in mc_service_main. */
#include "sender.h"

int main(int argc, char **argv)
{
    return mc_service_main(argc, argv, &mc_sender_def);
}
