"""ln q evaluated at the base sample instead of the output: sample returns log_prob(z) for x = f(z)."""
LOSES = ("flow",)


def sample(z, layers):
    x, _ = flow_forward(z, layers)
    return x, log_prob(z, layers)
