// Reads every file `meshgate pki` wrote (standard library only): certificates with
// x509.ParseCertificate, keys with x509.ParsePKCS8PrivateKey, and each key with its certificate
// via tls.LoadX509KeyPair. go run pki-read.go CERT... -- KEY:CERT...
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

func main() {
	failed := false
	keys := false
	for _, arg := range os.Args[1:] {
		if arg == "--" {
			keys = true
			continue
		}
		if !keys {
			data, err := os.ReadFile(arg)
			n := 0
			for err == nil {
				var block *pem.Block
				block, data = pem.Decode(data)
				if block == nil {
					break
				}
				_, err = x509.ParseCertificate(block.Bytes)
				n++
			}
			if err != nil || n == 0 {
				fmt.Printf("FAIL %s: %v (%d certificates)\n", arg, err, n)
				failed = true
			} else {
				fmt.Printf("ok %s: %d certificate(s)\n", arg, n)
			}
			continue
		}
		pair := strings.SplitN(arg, ":", 2)
		data, err := os.ReadFile(pair[0])
		if err == nil {
			block, _ := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" {
				err = fmt.Errorf("no PKCS#8 PRIVATE KEY block")
			} else {
				_, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			}
		}
		if err == nil {
			_, err = tls.LoadX509KeyPair(pair[1], pair[0])
		}
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", pair[0], err)
			failed = true
		} else {
			fmt.Printf("ok %s with %s\n", pair[0], pair[1])
		}
	}
	if failed {
		os.Exit(1)
	}
}
