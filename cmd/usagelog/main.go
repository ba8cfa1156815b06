// Command usagelog records how a SaaS platform is used and exports it.
package main

import (
	"context"
	"os"

	"github.com/usagelog/usagelog/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.OSEnv()))
}
