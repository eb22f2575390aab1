"""The cosine runs from step 0 to total_steps, ignoring that the warm-up took the first steps."""
LOSES = ("schedule",)


def warmup_cosine(step, total_steps, warmup_steps, peak, final=0.0):
    t = tf.minimum(tf.cast(step, tf.float32), float(total_steps))
    warmup = peak * t / max(warmup_steps, 1)
    cosine = final + 0.5 * (peak - final) * (1 + tf.cos(np.pi * t / total_steps))
    return tf.where(t < warmup_steps, warmup, cosine)
