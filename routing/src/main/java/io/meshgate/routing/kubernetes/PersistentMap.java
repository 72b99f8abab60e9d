package io.meshgate.routing.kubernetes;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * An immutable map that a change copies only in part, so a cluster of 10,000 Services can
 * publish a new snapshot per EndpointSlice update without copying every Service.
 *
 * <p>Keys are spread over a fixed number of shards, each a compact immutable {@link Map}; a
 * change copies the shard array (references only) and the shards it touches. With 10,000 keys
 * a shard holds about 40, so an update copies a few hundred references instead of 10,000
 * entries. Simpler than a hash trie, and within a constant factor of it at these sizes.
 */
final class PersistentMap<K, V> {

    private static final int SHARDS = 256;
    private static final PersistentMap<?, ?> EMPTY = new PersistentMap<>(emptyShards(), 0);

    private final Map<K, V>[] shards;
    private final int size;

    private PersistentMap(Map<K, V>[] shards, int size) {
        this.shards = shards;
        this.size = size;
    }

    @SuppressWarnings("unchecked")
    static <K, V> PersistentMap<K, V> empty() {
        return (PersistentMap<K, V>) EMPTY;
    }

    @SuppressWarnings("unchecked")
    private static <K, V> Map<K, V>[] emptyShards() {
        Map<K, V>[] shards = new Map[SHARDS];
        java.util.Arrays.fill(shards, Map.of());
        return shards;
    }

    private static int shard(Object key) {
        int h = key.hashCode();
        return (h ^ (h >>> 16) ^ (h >>> 8)) & (SHARDS - 1);
    }

    V get(K key) {
        return shards[shard(key)].get(key);
    }

    int size() {
        return size;
    }

    /** A map with {@code upserts} put and {@code removals} removed; each touched shard is copied once. */
    PersistentMap<K, V> with(Map<K, V> upserts, Collection<K> removals) {
        if (upserts.isEmpty() && removals.isEmpty()) {
            return this;
        }
        @SuppressWarnings("unchecked")
        Map<K, V>[] touched = new Map[SHARDS];
        for (K key : removals) {
            mutableShard(touched, shard(key)).remove(key);
        }
        upserts.forEach((key, value) -> mutableShard(touched, shard(key)).put(key, value));
        Map<K, V>[] next = shards.clone();
        int nextSize = size;
        for (int i = 0; i < SHARDS; i++) {
            if (touched[i] != null) {
                nextSize += touched[i].size() - shards[i].size();
                next[i] = Map.copyOf(touched[i]);
            }
        }
        return new PersistentMap<>(next, nextSize);
    }

    private Map<K, V> mutableShard(Map<K, V>[] touched, int i) {
        Map<K, V> m = touched[i];
        if (m == null) {
            m = new HashMap<>(shards[i]);
            touched[i] = m;
        }
        return m;
    }

    void forEach(BiConsumer<? super K, ? super V> action) {
        for (Map<K, V> shard : shards) {
            shard.forEach(action);
        }
    }
}
