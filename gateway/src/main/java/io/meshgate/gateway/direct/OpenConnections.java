package io.meshgate.gateway.direct;

import io.netty.channel.EventLoop;

/**
 * The open direct connections of one listener on one event loop: an intrusive doubly linked list
 * (two fields per connection, nothing allocated per connection), so that a drain can close them
 * all. Event loop only.
 */
final class OpenConnections {

    final EventLoop loop;
    private DirectConnection head;

    OpenConnections(EventLoop loop) {
        this.loop = loop;
    }

    void add(DirectConnection c) {
        c.next = head;
        c.prev = null;
        if (head != null) {
            head.prev = c;
        }
        head = c;
    }

    void remove(DirectConnection c) {
        if (c.prev == null && head != c) {
            return; // not listed
        }
        if (c.prev != null) {
            c.prev.next = c.next;
        } else {
            head = c.next;
        }
        if (c.next != null) {
            c.next.prev = c.prev;
        }
        c.prev = null;
        c.next = null;
    }

    /** Closes every listed connection (each close removes it). */
    void closeAll() {
        while (head != null) {
            DirectConnection c = head;
            c.close();
            if (head == c) { // a close that failed half-way must not loop forever
                remove(c);
            }
        }
    }
}
