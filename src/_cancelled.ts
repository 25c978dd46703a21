/** What a cancelled message fails with; private to skiff. */

/**
 * The failure of a cancelled message, as its group's failure callbacks and its result
 * (through `Results`) see it: `ResultFailure` with this type and message.
 */
export const CANCELLED: { readonly type: "Cancelled"; readonly message: string } = {
  type: "Cancelled",
  message: "The message was cancelled",
};
