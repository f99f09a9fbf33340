// Who else is typing in the room, from `TypingChanged` events, and the line under the
// messages that says so ("bob is typing…"). The server ends typing itself (6 s after the
// last announcement, or with a message), but an event that says so can be lost (another
// node, a reconnect): the client also forgets a typist 7 s after they last said they type.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Typist {
  id: string;
  username: string;
}

/** How long a typist is shown after their last TypingChanged(true). */
export const TYPIST_TTL_MS = 7000;

export function useTypists(): { typists: Typist[]; onTyping: (user: Typist, typing: boolean) => void } {
  // In the order they started typing.
  const [typists, setTypists] = useState<Typist[]>([]);
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());

  const onTyping = useCallback((user: Typist, typing: boolean) => {
    const t = timers.current;
    clearTimeout(t.get(user.id));
    t.delete(user.id);
    if (typing) {
      t.set(
        user.id,
        setTimeout(() => {
          t.delete(user.id);
          setTypists((list) => list.filter((u) => u.id !== user.id));
        }, TYPIST_TTL_MS),
      );
      setTypists((list) => (list.some((u) => u.id === user.id) ? list : [...list, { id: user.id, username: user.username }]));
    } else {
      setTypists((list) => (list.some((u) => u.id === user.id) ? list.filter((u) => u.id !== user.id) : list));
    }
  }, []);

  useEffect(() => {
    const t = timers.current;
    return () => {
      t.forEach(clearTimeout);
      t.clear();
    };
  }, []);

  return { typists, onTyping };
}

/** "bob is typing…", "bob and carol are typing…", "3 people are typing…"; empty for nobody. */
export function typingText(names: string[]): string {
  switch (names.length) {
    case 0:
      return '';
    case 1:
      return `${names[0]} is typing…`;
    case 2:
      return `${names[0]} and ${names[1]} are typing…`;
    default:
      return `${names.length} people are typing…`;
  }
}

/**
 * Always in the page (a live region only announces changes it was present for), with a
 * fixed height so the list above does not jump as people start and stop typing.
 */
export function TypingIndicator({ typists }: { typists: Typist[] }) {
  const text = typingText(typists.map((u) => u.username));
  return (
    <div className="typing" data-testid="typing" aria-live="polite" aria-atomic="true">
      {text && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {text}
        </>
      )}
    </div>
  );
}
