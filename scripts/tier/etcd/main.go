// Command etcd is the etcd server of the e2e tier, built from the published
// go.etcd.io/etcd/server/v3 module: its own main package cannot be imported, so this
// entry point hands the arguments to the server's etcdmain.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
