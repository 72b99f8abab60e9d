// TLS caller for the interop matrix (standard library only):
// go run client.go HOST PORT SNI CERT KEY VERSION(1.2|1.3)
// Presents CERT (every certificate in the file is sent) with KEY, sends one HTTP/1.1 request with
// Connection: close and prints the response. The gateway's certificate is not checked.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: client HOST PORT SNI CERT KEY 1.2|1.3")
		os.Exit(2)
	}
	host, port, sni, certFile, keyFile, version := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	v := uint16(tls.VersionTLS13)
	if version == "1.2" {
		v = tls.VersionTLS12
	}
	conf := &tls.Config{ServerName: sni, Certificates: []tls.Certificate{pair}, MinVersion: v, MaxVersion: v,
		InsecureSkipVerify: true}
	dialer := &net.Dialer{Timeout: 15 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", net.JoinHostPort(host, port), conf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handshake:", err)
		os.Exit(1)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	fmt.Printf("negotiated %s\n", tls.VersionName(conn.ConnectionState().Version))
	fmt.Fprintf(conn, "GET /interop HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni)
	out, err := io.ReadAll(conn)
	os.Stdout.Write(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(1)
	}
}
