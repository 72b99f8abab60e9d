// grpcpeer is a real grpc-go client and server (and a net/http HTTP/1.1 server) for meshgate's
// end-to-end tests: no .proto, a raw codec carries JSON. Each process prints the lines the test
// waits for on stdout: "LISTENING <port>", "START <method>", "CANCELLED <method>", "RESULT <json>".
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec moves bytes as they are (content-type application/grpc+raw).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

func init() { encoding.RegisterCodec(rawCodec{}) }

type request struct {
	SleepMs int `json:"sleepMs"`
	Count   int `json:"count"`
}

type reply struct {
	Name  string   `json:"name"`
	XFCC  []string `json:"xfcc"`
	Proto string   `json:"proto,omitempty"`
}

var out sync.Mutex

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "grpcpeer: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: grpcpeer server|h1server|client [flags]")
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "h1server":
		h1server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	default:
		fail("unknown command %q", os.Args[1])
	}
}

// serverTLS requires a client certificate chaining to ca (the gateway's identity).
func serverTLS(cert, key, ca string, alpn []string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fail("server key pair: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool(ca),
		ClientAuth: tls.RequireAndVerifyClientCert, NextProtos: alpn, MinVersion: tls.VersionTLS12}
}

func pool(file string) *x509.CertPool {
	pem, err := os.ReadFile(file)
	if err != nil {
		fail("bundle: %v", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		fail("bundle %s holds no certificate", file)
	}
	return p
}

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	say("LISTENING %d", l.Addr().(*net.TCPAddr).Port)
	return l
}

// endpointFlags: the name an endpoint echoes, and its TLS material (no -cert: h2c / plaintext).
func endpointFlags(command string, args []string) (name, cert, key, ca *string) {
	fs := flag.NewFlagSet(command, flag.ExitOnError)
	name = fs.String("name", "endpoint", "name echoed in every reply")
	cert = fs.String("cert", "", "serving certificate chain (PEM); empty = no TLS")
	key = fs.String("key", "", "private key (PEM)")
	ca = fs.String("ca", "", "roots the client certificate must chain to")
	fs.Parse(args)
	return
}

func server(args []string) {
	name, cert, key, ca := endpointFlags("server", args)

	// Raw bytes whatever the content-subtype: grpc-js and other generic clients send plain application/grpc.
	opts := []grpc.ServerOption{grpc.ForceServerCodec(rawCodec{})}
	if *cert != "" {
		opts = append(opts, grpc.Creds(credentials.NewTLS(serverTLS(*cert, *key, *ca, nil))))
	}
	s := grpc.NewServer(opts...)
	h := &echo{name: *name}
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "meshgate.peers.Echo",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Who", Handler: h.who}},
		Streams:     []grpc.StreamDesc{{StreamName: "Stream", Handler: h.stream, ServerStreams: true}},
	}, h)
	if err := s.Serve(listen()); err != nil {
		fail("serve: %v", err)
	}
}

type echo struct{ name string }

func (e *echo) reply(ctx context.Context) []byte {
	md, _ := metadata.FromIncomingContext(ctx)
	b, _ := json.Marshal(reply{Name: e.name, XFCC: md.Get("x-forwarded-client-cert")})
	return b
}

// sleep waits, or reports the cancellation the gateway passed on (RST_STREAM from grpc-timeout).
func sleep(ctx context.Context, method string, ms int) error {
	if ms <= 0 {
		return nil
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-ctx.Done():
		say("CANCELLED %s", method)
		return status.FromContextError(ctx.Err()).Err()
	}
}

func (e *echo) who(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var raw []byte
	if err := dec(&raw); err != nil {
		return nil, err
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "request: %v", err)
	}
	say("START Who")
	if err := sleep(ctx, "Who", req.SleepMs); err != nil {
		return nil, err
	}
	b := e.reply(ctx)
	return &b, nil
}

func (e *echo) stream(_ any, ss grpc.ServerStream) error {
	var raw []byte
	if err := ss.RecvMsg(&raw); err != nil {
		return err
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return status.Errorf(codes.InvalidArgument, "request: %v", err)
	}
	say("START Stream")
	for i := 0; i < req.Count; i++ {
		if err := sleep(ss.Context(), "Stream", req.SleepMs); err != nil {
			return err
		}
		b := e.reply(ss.Context())
		if err := ss.SendMsg(&b); err != nil {
			return err
		}
	}
	return nil
}

// h1server answers every request with its name, the XFCC it saw and the protocol the gateway spoke.
func h1server(args []string) {
	name, cert, key, ca := endpointFlags("h1server", args)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		b, _ := json.Marshal(reply{Name: *name, XFCC: r.Header.Values("X-Forwarded-Client-Cert"), Proto: r.Proto})
		w.Header().Set("content-type", "application/json")
		w.Write(append(b, '\n'))
	})}
	l := listen()
	var err error
	if *cert != "" {
		srv.TLSConfig = serverTLS(*cert, *key, *ca, []string{"http/1.1"})
		err = srv.ServeTLS(l, "", "")
	} else {
		err = srv.Serve(l)
	}
	fail("serve: %v", err)
}

// sniCreds sends the routing name as SNI while :authority stays the service's host:port, as a
// mesh sidecar does (grpc-go refuses a tls.Config ServerName that differs from the authority).
type sniCreds struct {
	credentials.TransportCredentials
	sni string
}

func (c sniCreds) ClientHandshake(ctx context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.TransportCredentials.ClientHandshake(ctx, c.sni, conn)
}

type result struct {
	Dials    int64               `json:"dials"`
	Unary    map[string]int      `json:"unary"`
	Stream   map[string]int      `json:"stream"`
	XFCC     map[string][]string `json:"xfcc"`
	Codes    map[string]int      `json:"codes"`
	Errors   []string            `json:"errors"`
	Messages map[string]int      `json:"messages"`
	Millis   int64               `json:"millis"`
}

func client(args []string) {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "gateway host:port")
	sni := fs.String("sni", "", "SNI (outbound_.PORT_._.HOST)")
	authority := fs.String("authority", "", ":authority")
	cert := fs.String("cert", "", "client certificate chain (PEM)")
	key := fs.String("key", "", "client key (PEM)")
	ca := fs.String("ca", "", "roots the gateway's certificate must chain to")
	unary := fs.Int("unary", 0, "unary calls")
	streams := fs.Int("streams", 0, "server-streaming calls")
	perStream := fs.Int("per-stream", 3, "messages per server-streaming call")
	parallel := fs.Int("parallel", 16, "calls in flight at once")
	sleepMs := fs.Int("sleep-ms", 0, "the server waits this long before answering")
	timeout := fs.Duration("timeout", 20*time.Second, "deadline of each call (grpc-timeout)")
	fs.Parse(args)

	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fail("client key pair: %v", err)
	}
	roots := pool(*ca)
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
		// The gateway's certificate carries a SPIFFE ID, not the routing name: verify the chain only.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}}
	var dials atomic.Int64
	conn, err := grpc.NewClient("passthrough:///"+*addr,
		grpc.WithTransportCredentials(sniCreds{credentials.NewTLS(cfg), *sni}),
		grpc.WithAuthority(*authority),
		grpc.WithDefaultCallOptions(grpc.CallContentSubtype("raw")),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, "tcp", a)
		}))
	if err != nil {
		fail("client: %v", err)
	}
	defer conn.Close()

	res := result{Unary: map[string]int{}, Stream: map[string]int{}, XFCC: map[string][]string{},
		Codes: map[string]int{}, Messages: map[string]int{}, Errors: []string{}}
	var mu sync.Mutex
	seen := map[string]bool{}
	record := func(kind map[string]int, b []byte) {
		var r reply
		if err := json.Unmarshal(b, &r); err != nil {
			res.Errors = append(res.Errors, "reply: "+err.Error())
			return
		}
		kind[r.Name]++
		for _, x := range r.XFCC {
			if !seen[r.Name+"\x00"+x] {
				seen[r.Name+"\x00"+x] = true
				res.XFCC[r.Name] = append(res.XFCC[r.Name], x)
			}
		}
		if len(r.XFCC) == 0 && !seen[r.Name+"\x00"] {
			seen[r.Name+"\x00"] = true
			res.XFCC[r.Name] = append(res.XFCC[r.Name], "")
		}
	}
	done := func(err error) {
		st, _ := status.FromError(err)
		res.Codes[st.Code().String()]++
		if err != nil {
			res.Messages[st.Message()]++
			if len(res.Errors) < 5 {
				res.Errors = append(res.Errors, err.Error())
			}
		}
	}
	body, _ := json.Marshal(request{SleepMs: *sleepMs, Count: *perStream})
	start := time.Now()
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i := 0; i < *unary+*streams; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(streaming bool) {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			defer cancel()
			if !streaming {
				var resp []byte
				req := body
				err := conn.Invoke(ctx, "/meshgate.peers.Echo/Who", &req, &resp)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					record(res.Unary, resp)
				}
				done(err)
				return
			}
			s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/meshgate.peers.Echo/Stream")
			if err == nil {
				req := body
				err = s.SendMsg(&req)
				if err == nil {
					err = s.CloseSend()
				}
			}
			var msgs [][]byte
			for err == nil {
				var m []byte
				if err = s.RecvMsg(&m); err == nil {
					msgs = append(msgs, m)
				}
			}
			if err == io.EOF {
				err = nil
				if len(msgs) != *perStream {
					err = fmt.Errorf("stream ended after %d of %d messages", len(msgs), *perStream)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				record(res.Stream, m)
			}
			done(err)
		}(i >= *unary)
		if i == 0 {
			say("SENT first")
		}
	}
	wg.Wait()
	res.Millis = time.Since(start).Milliseconds()
	res.Dials = dials.Load()
	b, _ := json.Marshal(res)
	say("RESULT %s", strings.TrimSpace(string(b)))
}
