"""Saves the model, the step and the best metric, but not the optimizer."""
LOSES = ("checkpoint",)


def save_checkpoint(directory, model, optimizer, step, best_metric, max_to_keep=3):
    checkpoint = tf.train.Checkpoint(model=model, step=tf.Variable(step, dtype=tf.int64),
                                     best=tf.Variable(best_metric, dtype=tf.float64))
    manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=max_to_keep)
    return manager.save(checkpoint_number=int(step))
