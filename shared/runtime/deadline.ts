// Waiting with a deadline: every wait in this system has one (drains, flushes, closes).

/**
 * Resolves true when `work` settles before `deadline` (epoch ms), false when the deadline comes
 * first. `work` is not cancelled (JavaScript cannot); a rejection counts as settled.
 */
export async function withDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
