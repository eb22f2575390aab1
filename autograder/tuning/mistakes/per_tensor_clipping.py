"""Clips each gradient tensor to max_norm on its own (tf.clip_by_norm), not by the global norm."""
LOSES = ("clipping",)


def clip_by_global_norm(grads, max_norm):
    grads = [tf.convert_to_tensor(g) for g in grads]
    global_norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.cast(g, tf.float64) ** 2) for g in grads]))
    return [tf.clip_by_norm(g, max_norm) for g in grads], global_norm
