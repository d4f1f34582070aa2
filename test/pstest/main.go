// Command pstest serves Google's in-memory Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest) on a loopback
// port, so the Pub/Sub bus runs its contract suite against the real API surface: test/launchers.ts builds and
// starts it, and PUBSUB_EMULATOR_HOST points the client library at it.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	port := flag.Int("port", 0, "loopback port to listen on (0: any free port)")
	flag.Parse()
	srv := pstest.NewServerWithPort(*port)
	// The launcher waits for this line (or for the port) before it hands the address to a test.
	fmt.Printf("pstest listening on %s\n", srv.Addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	if err := srv.Close(); err != nil {
		log.Fatal(err)
	}
}
