// Command etcd is a thin wrapper around the upstream etcd server main
// (go.etcd.io/etcd/server/v3/etcdmain), built by hack/cluster.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
