#define _GNU_SOURCE
/* A minimal keep-alive HTTP/1.1 backend for the router benchmark: epoll, one thread.
 * GET /big answers a 1 MiB body, anything else "hello, world\n". Requests are counted by their
 * blank line; request bodies are not supported (the benchmark sends none).
 * Usage: backend PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXEV 256
#define BIG (1024 * 1024)

static const char SMALL[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n";
static char *big_response;
static size_t big_len;

struct conn { int fd; char tail[3]; size_t pending_off, pending_len; const char *pending; };

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int flush(struct conn *c) {
    while (c->pending && c->pending_off < c->pending_len) {
        ssize_t n = send(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->pending_off += (size_t)n;
    }
    c->pending = NULL;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: backend PORT\n"); return 2; }
    const char *hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n";
    big_len = strlen(hdr) + BIG;
    big_response = malloc(big_len);
    memcpy(big_response, hdr, strlen(hdr));
    memset(big_response + strlen(hdr), 'x', BIG);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 4096)) { perror("listen"); return 1; }
    nonblock(ls);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[MAXEV];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, evs, MAXEV, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept(ls, NULL, NULL)) >= 0) {
                    nonblock(fd);
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            int dead = 0;
            if (flush(c) < 0) dead = 1;
            while (!dead && !c->pending) {
                ssize_t r = recv(c->fd, buf, sizeof buf, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN)) { dead = 1; break; }
                if (r < 0) break;
                /* find blank lines (requests), looking across the previous read's tail */
                char joined[sizeof buf + 3];
                memcpy(joined, c->tail, 3);
                memcpy(joined + 3, buf, (size_t)r);
                size_t len = (size_t)r + 3;
                int big = memmem(buf, (size_t)r, "GET /big", 8) != NULL;
                size_t small_count = 0;
                for (size_t k = 0; k + 4 <= len; k++)
                    if (joined[k] == '\r' && !memcmp(joined + k, "\r\n\r\n", 4)) small_count++;
                memcpy(c->tail, joined + len - 3, 3);
                for (size_t k = 0; k < small_count && !dead; k++) {
                    if (big) { c->pending = big_response; c->pending_len = big_len; }
                    else { c->pending = SMALL; c->pending_len = sizeof SMALL - 1; }
                    c->pending_off = 0;
                    if (flush(c) < 0) dead = 1;
                    if (c->pending && k + 1 < small_count) break; /* pipelining under backpressure: rare */
                }
            }
            if (dead) { close(c->fd); free(c); }
        }
    }
}
